//go:build !linux && !darwin

package sockets

import (
	"errors"
	"fmt"
	"runtime"
)

var errUnsupported = fmt.Errorf("sockets: %s: %w", runtime.GOOS, errors.ErrUnsupported)

// TCPListeners is not implemented on this platform.
func TCPListeners(port int) ([]Listener, error) { return nil, errUnsupported }

// ListenersOf is not implemented on this platform.
func ListenersOf(pids []int) ([]Listener, error) { return nil, errUnsupported }

// ProcessName is not implemented on this platform; it returns "".
func ProcessName(pid int) string { return "" }

// StartTime is not implemented on this platform.
func StartTime(pid int) (string, error) { return "", errUnsupported }

func listProcs() ([]proc, error) { return nil, errUnsupported }

func listenersOn(port int, pids []int) ([]Listener, error) { return nil, errUnsupported }

func identify([]Listener) {}
