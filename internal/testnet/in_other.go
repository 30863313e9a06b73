//go:build !linux

package testnet

import "errors"

// in needs setns(2), which only Linux has.
func (h *Host) in(func() error) error { return errors.ErrUnsupported }
