//go:build !darwin

package daemon

func underLaunchd() bool { return false }
