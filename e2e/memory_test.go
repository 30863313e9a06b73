package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMemoryRestart: a gateway tree that grows past memory.restart_above
// is restarted once, at a quiet moment, with the reason in status and the
// log; the gateway's oom_score_adj is raised so the OOM killer takes it
// before openclawd.
func TestMemoryRestart(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{extraCfg: `backup:
  every: 0s
memory:
  restart_above: 300MB
  quiet: 1s
  interval: 200ms
`})
	in.waitHealthy()
	st, _ := in.status()
	first := st.Gateway.PID
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", first)); err != nil || strings.TrimSpace(string(b)) != "500" {
		t.Errorf("the gateway's oom_score_adj = %q (%v), want 500", b, err)
	}
	if m := st.Gateway.Memory; m == nil || m.RestartAbove != 300<<20 || st.Gateway.TreeRSS >= 300<<20 {
		t.Fatalf("status memory = %+v, tree RSS %d; want a 300 MB bound above the RSS", m, st.Gateway.TreeRSS)
	}

	in.cue("grow?mb=350")
	waitFor(t, 30*time.Second, "a restart for memory", func() bool {
		st, _ = in.status()
		return st.Gateway.PID != 0 && st.Gateway.PID != first && st.Healthy
	})
	m := st.Gateway.Memory
	if m == nil || m.LastRestart == nil || !strings.Contains(m.LastRestart.Reason, "above memory.restart_above (300 MB)") {
		t.Fatalf("status after the restart: memory %+v; want the reason", m)
	}
	t.Logf("reason: %s", m.LastRestart.Reason)
	second := st.Gateway.PID

	// Once: the new gateway is small, and stays up while many samples pass.
	samples := 0
	waitFor(t, 30*time.Second, "15 more memory samples", func() bool {
		st, _ = in.status()
		if st.Gateway.PID != second {
			t.Fatalf("the gateway restarted again (pid %d → %d): %+v", second, st.Gateway.PID, st.Gateway.Memory)
		}
		samples++
		return samples >= 15 && st.Gateway.Memory.PeakBytes > 0
	})
	if n := strings.Count(in.stderr.String(), "restarting the gateway for memory"); n != 1 {
		t.Errorf("openclawd logged %d memory restarts, want 1:\n%s", n, in.stderr.String())
	}
	out, _ := in.cli("status", "--socket", in.sock)
	if !strings.Contains(out, "restarts above 300 MB") || !strings.Contains(out, "restarted for memory") {
		t.Errorf("status does not show the memory line:\n%s", out)
	}
}
