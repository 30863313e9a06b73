//go:build !linux

package hostcheck

import "errors"

// SwapPlan: see swap_linux.go; other systems manage swap themselves.
func SwapPlan(ramBytes int64) (size int64, path string) { return 0, "" }

// MakeSwap is Linux only.
func MakeSwap(path string, size int64) error { return errors.ErrUnsupported }
