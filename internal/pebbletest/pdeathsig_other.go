//go:build !linux

package pebbletest

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
