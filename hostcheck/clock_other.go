//go:build !linux

package hostcheck

func checkClock() Result {
	return Result{Name: "clock", Level: Skip, Detail: "clock sync is checked on Linux only"}
}
