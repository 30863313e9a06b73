package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/npmtest"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/pins"
	"github.com/openclawd/openclawd/upgrade"
)

// BenchmarkUpgrade measures, with the real gateway (stable window 10 s;
// the default is 2 min):
//   - upgrade: `openclawd upgrade --yes` from openclaw 2026.9.5 to the
//     pinned 2026.9.6, command to stable (the target installed by it);
//   - downtime: the longest run of failed /healthz polls (every 50 ms)
//     during it;
//   - rollback: from the failed gate of a target that exits during its
//     start (internal/npmtest) to the old version healthy again;
//   - extra disk: the state dir's peak growth during the upgrade.
//
// go test -run '^$' -bench Upgrade -benchtime 1x ./e2e/
func BenchmarkUpgrade(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: npm runs as the unprivileged install user")
	}
	const bad = "2026.99.0"
	reg := npmtest.Start(b, npmtest.FailingOpenclaw(bad))
	env := []string{"npm_config_registry=" + reg.URL}
	var took, down, rollback time.Duration
	var extra int64
	for range b.N {
		in := newRealInstance(b)
		state := filepath.Join(in.dir, "state")
		override := fmt.Sprintf("openclaw:\n  version: %s\n  integrity: %s\n", olderOpenclaw, olderOpenclawIntegrity)
		appendConfig(b, in.cfg, override+upgradeCfg)
		in.start(env...)
		in.waitStatus("healthy on "+olderOpenclaw, 8*time.Minute, func(s apitype.Status, rc int) bool {
			return rc == 0 && s.Healthy && s.Health.Deep.HelloOK && s.Health.Version == olderOpenclaw
		})
		before, _ := dirSize(state)
		peak := before
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var gap time.Duration
		wg.Go(func() { gap = longestOutage(ctx, in.port) })
		wg.Go(func() {
			for ctx.Err() == nil {
				if n, err := dirSize(state); err == nil && n > peak {
					peak = n
				}
				time.Sleep(500 * time.Millisecond)
			}
		})
		start := time.Now()
		out, rc := in.cli("upgrade", "--config", in.cfg, "--openclaw", pins.OpenclawVersion, "--yes")
		took += time.Since(start)
		cancel()
		wg.Wait()
		if rc != 0 {
			b.Fatalf("upgrade: rc %d\n%s", rc, out)
		}
		down += gap
		extra += peak - before

		out, rc = in.cli("upgrade", "--config", in.cfg, "--openclaw", bad, "--yes")
		if rc != 1 {
			b.Fatalf("upgrade to the failing target: rc %d\n%s", rc, out)
		}
		st, _ := in.status()
		var undo, healthy time.Time
		for _, s := range st.Upgrade.Last.Steps {
			switch s.Phase {
			case upgrade.PhaseUndo:
				undo = s.At
			case upgrade.PhaseUndoGate:
				healthy = s.At // the snapshot is back; the gate starts
			}
		}
		// The old version is healthy when its gate saw it so: the gate
		// then holds the stable window, which the log marks.
		if undo.IsZero() || healthy.IsZero() {
			b.Fatalf("no undo steps: %+v", st.Upgrade.Last)
		}
		rollback += gateHealthyAt(b, in, healthy).Sub(undo)
		in.stop()
	}
	n := float64(b.N)
	b.ReportMetric(took.Seconds()/n, "upgrade-s")
	b.ReportMetric(down.Seconds()/n, "downtime-s")
	b.ReportMetric(rollback.Seconds()/n, "rollback-s")
	b.ReportMetric(float64(extra)/n/1e6, "extra-disk-MB")
}

// longestOutage polls /healthz until ctx ends and returns the longest run
// of failures.
func longestOutage(ctx context.Context, port int) time.Duration {
	hc := &http.Client{Timeout: 500 * time.Millisecond}
	var longest time.Duration
	var downSince time.Time
	for ctx.Err() == nil {
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		ok := err == nil && resp.StatusCode == http.StatusOK
		if resp != nil {
			resp.Body.Close()
		}
		switch {
		case !ok && downSince.IsZero():
			downSince = time.Now()
		case ok && !downSince.IsZero():
			longest = max(longest, time.Since(downSince))
			downSince = time.Time{}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return longest
}

// gateHealthyAt is when, after from, the log says the gate saw the
// gateway healthy.
func gateHealthyAt(b *testing.B, in *instance, from time.Time) time.Time {
	for _, l := range strings.Split(in.stderr.String(), "\n") {
		if !strings.Contains(l, "health gate: the gateway is healthy") {
			continue
		}
		i := strings.Index(l, "time=")
		if i < 0 {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, strings.Fields(l[i+5:])[0])
		if err == nil && t.After(from) {
			return t
		}
	}
	b.Fatalf("no health gate line after %s in the log", from)
	return time.Time{}
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
