package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/openclaw"
)

// Settling times of BenchmarkGatewayRSS (docs/memory.md): the gateway's
// tree is still loading plugins and workers for ~30 s after it says
// started, and is idle after 2–3 min.
const (
	rssSettle = 60 * time.Second
	rssIdle   = 150 * time.Second
)

// smallHostRAMMB is the host the small-host case stands for.
const smallHostRAMMB = 1024

// BenchmarkGatewayRSS starts the real gateway under openclawd as it is
// by default and with the small-host profile (config keys, environment,
// node flags), and reports the tree RSS that status shows 60 s after
// healthy (MB-rss) and at idle (MB-rss-idle), and the start time.
//
//	sudo go test ./e2e -run '^$' -bench BenchmarkGatewayRSS -benchtime 1x -timeout 30m
func BenchmarkGatewayRSS(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: npm runs as the unprivileged install user")
	}
	in := newRealInstance(b)
	in.start()
	in.waitStatus("provisioned and healthy", 8*time.Minute, func(s apitype.Status, rc int) bool { return rc == 0 && s.Healthy })
	in.stop()
	gwConfig := filepath.Join(in.dir, "state", "openclaw", "openclaw.json")

	for _, c := range []struct {
		name  string
		apply func(b *testing.B)
	}{
		{"default", func(*testing.B) {}},
		{"small-host", func(b *testing.B) {
			if _, err := openclaw.ApplySmallHost(gwConfig); err != nil {
				b.Fatal(err)
			}
			if err := os.Chown(gwConfig, serviceIDs.uid, serviceIDs.gid); err != nil {
				b.Fatal(err)
			}
			setSmallHostLaunch(b, in.cfg)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			in.t = b
			c.apply(b)
			var rss, idle, start float64
			for range b.N {
				t0 := time.Now()
				in.start()
				in.waitStatus("healthy", 5*time.Minute, func(s apitype.Status, rc int) bool { return rc == 0 && s.Healthy })
				healthy := time.Now()
				start += healthy.Sub(t0).Seconds()
				rss += treeRSSAt(b, in, healthy.Add(rssSettle))
				idle += treeRSSAt(b, in, healthy.Add(rssIdle))
				in.stop()
			}
			n := float64(b.N)
			b.ReportMetric(rss/n, "MB-rss")
			b.ReportMetric(idle/n, "MB-rss-idle")
			b.ReportMetric(start/n, "s-start")
		})
	}
}

// treeRSSAt polls status until at and returns the gateway tree's RSS then,
// in MB. Polling (not sleeping) notices a gateway that died meanwhile.
func treeRSSAt(b *testing.B, in *instance, at time.Time) float64 {
	b.Helper()
	var last apitype.Status
	for {
		st, rc := in.status()
		if rc != 0 || !st.Healthy {
			b.Fatalf("gateway not healthy while measuring (rc %d): %+v", rc, st.Gateway)
		}
		last = st
		if !time.Now().Before(at) {
			return float64(last.Gateway.TreeRSS) / 1e6
		}
		select {
		case <-in.exited:
			b.Fatal("openclawd exited while measuring")
		case <-time.After(min(2*time.Second, time.Until(at))):
		}
	}
}

// setSmallHostLaunch gives the gateway what the launcher gives it on a
// small host, through openclawd.yaml (this host is larger): the
// profile's environment in gateway.env and its heap in node.
func setSmallHostLaunch(b *testing.B, cfgPath string) {
	b.Helper()
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	if env := openclaw.SmallHostEnv(smallHostRAMMB); len(env) > 0 {
		var y strings.Builder
		y.WriteString("gateway:\n  env:\n")
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&y, "    %s: %q\n", k, v)
		}
		s = strings.Replace(s, "gateway:\n", y.String(), 1)
	}
	// The heap the launcher gives a host of that size.
	s = strings.Replace(s, "node:\n", fmt.Sprintf("node:\n  max_old_space_mb: %d\n", openclaw.HeapMB(smallHostRAMMB, 0)), 1)
	if err := os.WriteFile(cfgPath, []byte(s), 0o644); err != nil {
		b.Fatal(err)
	}
}
