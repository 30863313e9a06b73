package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/pins"
	"github.com/openclawd/openclawd/runtime/provision"
)

// BenchmarkColdInstall provisions Node and openclaw into an empty state dir
// with an empty npm cache (download, verify, unpack, npm ci), then does a
// plain `npm install openclaw@<ver>` with the same Node and an empty cache,
// and reports both and their ratio.
func BenchmarkColdInstall(b *testing.B) {
	url, sum := nodeMirror(b)
	for range b.N {
		dir := b.TempDir()
		cfg := config.Default()
		cfg.StateDir = dir
		cfg.Node.Mirror, cfg.Node.SHA256 = url, sum
		cfg.Openclaw.InstallUser = "root" // measure npm, not user switching
		t0 := time.Now()
		rt, err := provision.Ensure(context.Background(), daemon.RuntimeOptions(cfg, slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		ours := time.Since(t0)

		prefix := filepath.Join(dir, "plain")
		cmd := exec.Command(rt.Node.Bin(), rt.Node.NPM(), "install", "-g", "--prefix", prefix,
			"--cache", filepath.Join(dir, "plain-cache"), "--no-audit", "--no-fund", "openclaw@"+pins.OpenclawVersion)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(rt.Node.Bin())+":"+os.Getenv("PATH"))
		t1 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("plain npm install: %v\n%s", err, out)
		}
		plain := time.Since(t1)
		b.ReportMetric(ours.Seconds(), "openclawd_s")
		b.ReportMetric(plain.Seconds(), "plain_npm_s")
		b.ReportMetric(ours.Seconds()/plain.Seconds(), "ratio")
		b.ReportMetric(float64(duBytes(filepath.Join(dir, "runtime")))/1e6, "runtime_MB")
		chmodTree(dir)
	}
}

// BenchmarkWarmStart compares `openclawd run` to a healthy gateway (all
// installed) with starting the same gateway by hand to /startupz "started".
// Each side runs once to warm caches (Node's compile cache, the page
// cache) before the measured runs, which alternate.
func BenchmarkWarmStart(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	in := newRealInstance(b)
	in.start()
	in.waitStatus("provisioned and healthy", 8*time.Minute, func(s apitype.Status, rc int) bool { return rc == 0 && s.Healthy })
	st, _ := in.status()
	b.ReportMetric(float64(st.Gateway.TreeRSS)/1e6, "gateway_tree_rss_MB")
	b.ReportMetric(float64(st.Gateway.RSSBytes)/1e6, "gateway_rss_MB")
	in.stop()
	handTmp := b.TempDir() // kept across runs, as /tmp is for someone starting it by hand
	startByHand(b, in, handTmp)
	var ours, hand time.Duration
	for range b.N {
		in.start()
		t0 := time.Now()
		pollStatus(b, in, 5*time.Minute, func(s apitype.Status) bool { return s.Healthy })
		ours += time.Since(t0)
		in.stop()

		hand += startByHand(b, in, handTmp)
	}
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "openclawd_s")
	b.ReportMetric(hand.Seconds()/n, "by_hand_s")
	b.ReportMetric((ours-hand).Seconds()/hand.Seconds()*100, "overhead_%")
}

// startByHand runs the installed gateway the way openclawd does, minus
// openclawd, and times it to /startupz "started".
func startByHand(b *testing.B, in *instance, tmp string) time.Duration {
	state := filepath.Join(in.dir, "state")
	rt := filepath.Join(state, "runtime")
	platform, _ := node.Platform()
	nodeBin := filepath.Join(rt, "node-"+pins.NodeVersion+"-"+platform, "bin", "node")
	launcher := filepath.Join(rt, "openclaw-"+pins.OpenclawVersion, "node_modules", "openclaw", "openclaw.mjs")
	cmd := exec.Command(nodeBin, "--max-old-space-size=8192", launcher, "gateway", "run", "--port", strconv.Itoa(in.port), "--bind", "loopback")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Join(state, "home"), "TMPDIR=" + tmp, "NO_COLOR=1",
		"OPENCLAW_STATE_DIR=" + filepath.Join(state, "openclaw"), "OPENCLAW_GATEWAY_TOKEN=" + in.token(),
		"OPENCLAW_SUPERVISOR_MODE=external", "OPENCLAW_NO_AUTO_UPDATE=1", "OPENCLAW_DISABLE_BONJOUR=1"}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Since(t0) < 5*time.Minute {
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/startupz", in.port))
		if err == nil {
			body := make([]byte, 256)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			if strings.Contains(string(body[:n]), `"started"`) {
				return time.Since(t0)
			}
		}
		time.Sleep(20 * time.Millisecond) // sampling period of the measurement
	}
	b.Fatal("gateway started by hand never said started")
	return 0
}

func duBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
