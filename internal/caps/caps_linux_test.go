package caps

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// capAmb runs start (or a plain Start) on a thread that has
// CAP_NET_BIND_SERVICE ambient, and returns the child's CapAmb line. Call
// it on a goroutine of its own: it changes its thread's capabilities for
// good, so the thread is never unlocked and dies with the goroutine.
func capAmb(clean bool) (string, error) {
	runtime.LockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return "", err
	}
	data[0].Inheritable |= 1 << unix.CAP_NET_BIND_SERVICE
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return "", fmt.Errorf("capset (the test needs root): %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, unix.CAP_NET_BIND_SERVICE, 0, 0); err != nil {
		return "", fmt.Errorf("raising an ambient capability: %w", err)
	}
	cmd := exec.Command("grep", "^CapAmb:", "/proc/self/status")
	var out bytes.Buffer
	cmd.Stdout = &out
	var err error
	if clean {
		err = start(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return "", err
	}
	if err := cmd.Wait(); err != nil {
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

func TestStart(t *testing.T) {
	tests := []struct {
		name  string
		clean bool
		want  string
	}{
		{name: "plain Start passes the ambient set on", clean: false, want: "CapAmb:\t0000000000000400"},
		{name: "caps.Start clears it", clean: true, want: "CapAmb:\t0000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("raising an ambient capability needs root")
			}
			type result struct {
				line string
				err  error
			}
			ch := make(chan result, 1)
			go func() { l, err := capAmb(tt.clean); ch <- result{l, err} }()
			r := <-ch
			if r.err != nil || r.line != tt.want {
				t.Errorf("child %q, %v; want %q", r.line, r.err, tt.want)
			}
		})
	}
}
