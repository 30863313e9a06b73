package e2e

// Assumes the harness API of harness_test.go (newInstance, opts.mode,
// setMode, waitHealthy, waitStatus, eventLines, alive).

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// escapedPIDs returns the pids of the fake's setsid'd, orphaned grandchildren.
func (in *instance) escapedPIDs() []int {
	var out []int
	for _, l := range in.eventLines("escaped pid=") {
		f := strings.Fields(strings.TrimPrefix(l, "escaped pid="))
		if pid, err := strconv.Atoi(f[0]); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// TestEscapedListenerIsRefusedAndKilled: a setsid'd, double-forked
// grandchild of the gateway that listens on 0.0.0.0 is part of the tree
// (openclawd is its subreaper), so the loopback check finds it, and it
// dies with the gateway.
func TestEscapedListenerIsRefusedAndKilled(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{mode: "escape-any"})
	st, _ := in.waitStatus("not_loopback", 30*time.Second, func(s apitype.Status, _ int) bool {
		return s.Gateway.State == "failed"
	})
	if st.Gateway.Code != "not_loopback" || !strings.Contains(st.Gateway.Reason, "0.0.0.0:") {
		t.Fatalf("status %s %s: %s; want not_loopback naming 0.0.0.0", st.Gateway.State, st.Gateway.Code, st.Gateway.Reason)
	}
	esc := in.escapedPIDs()
	if len(esc) != 1 {
		t.Fatalf("escaped processes %v, want one", esc)
	}
	fgtest.WaitFor(t, 10*time.Second, "the escaped listener to be killed", func() bool { return !alive(esc[0]) })
}

// TestEscapedProcessDiesWithACrash: an idle escaped grandchild is killed
// when the gateway is killed with SIGKILL, and when openclawd stops.
func TestEscapedProcessDiesWithACrash(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{mode: "escape-idle"})
	old := in.waitHealthy().Gateway.PID
	esc := in.escapedPIDs()
	if len(esc) != 1 || !alive(esc[0]) {
		t.Fatalf("escaped processes %v, want one alive", esc)
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	fgtest.WaitFor(t, 10*time.Second, "the escaped process to die with the gateway", func() bool { return !alive(esc[0]) })
	in.waitStatus("a new gateway", 30*time.Second, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Healthy && s.Gateway.PID != old && s.Gateway.PID > 0
	})
	esc = in.escapedPIDs()
	if len(esc) != 2 || !alive(esc[1]) {
		t.Fatalf("escaped processes %v, want a second one alive", esc)
	}
	if rc := in.stop(); rc != 0 {
		t.Errorf("openclawd exit %d", rc)
	}
	if alive(esc[1]) {
		t.Errorf("escaped pid %d outlived openclawd's stop", esc[1])
	}
}
