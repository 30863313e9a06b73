package testnet

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// in runs f on an OS thread moved into the namespace, then moves the
// thread back. Letting the thread die instead would be simpler, but a
// thread's exit fires the Pdeathsig of every child it ever started.
func (h *Host) in(f func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- err
			return
		}
		defer home.Close()
		ns, err := os.Open("/run/netns/" + h.NS)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("setns %s: %w", h.NS, err)
			return
		}
		err = f()
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // back home: the thread may serve others
		} // else stay locked: the runtime retires the thread with this goroutine
		ch <- err
	}()
	return <-ch
}
