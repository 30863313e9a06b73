package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// pollStatus polls the control API in-process (no CLI start-up cost) until
// cond holds, and returns when it did.
func pollStatus(b *testing.B, in *instance, d time.Duration, cond func(apitype.Status) bool) time.Time {
	c := localapi.NewClient(in.sock)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		st, err := c.Status(context.Background())
		if err == nil && cond(st) {
			return time.Now()
		}
		time.Sleep(2 * time.Millisecond) // sampling period of the measurement
	}
	b.Fatalf("condition not reached within %s\n%s", d, in.stderr.String())
	return time.Time{}
}

// fakeStartTime is how long the fake gateway alone takes from exec to
// /startupz "started", the part of recovery that is not openclawd's.
func fakeStartTime(b *testing.B) time.Duration {
	port := freePort(b)
	cmd := exec.Command(bins.fake, "--port", strconv.Itoa(port))
	cmd.Env = []string{"OPENCLAW_GATEWAY_TOKEN=" + strings.Repeat("a", 32), "FAKE_GATEWAY_STARTUP_MS=0"}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	hc := &http.Client{Timeout: time.Second}
	for time.Since(start) < 10*time.Second {
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/startupz", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start)
			}
		}
		time.Sleep(time.Millisecond)
	}
	b.Fatal("fake gateway did not start")
	return 0
}

// BenchmarkRecoveryAfterKill9 reports the time from kill -9 of the gateway
// to a healthy new one, and that minus the fake's own start time.
func BenchmarkRecoveryAfterKill9(b *testing.B) {
	in := newInstance(b, opts{gwEnv: map[string]string{"FAKE_GATEWAY_STARTUP_MS": "0"}})
	in.waitHealthy()
	var total, own time.Duration
	for range b.N {
		st, _ := in.status()
		old := st.Gateway.PID
		t0 := time.Now()
		if err := syscallKill(old); err != nil {
			b.Fatal(err)
		}
		t1 := pollStatus(b, in, 30*time.Second, func(s apitype.Status) bool {
			return s.Healthy && s.Gateway.PID != old && s.Gateway.PID > 0
		})
		total += t1.Sub(t0)
		own += fakeStartTime(b)
		// Let the restart count settle so the next kill is a first crash again.
		in.cli("restart", "--socket", in.sock)
		in.waitHealthy()
	}
	n := float64(b.N)
	b.ReportMetric(float64(total.Milliseconds())/n, "recovery_ms")
	b.ReportMetric(float64(own.Milliseconds())/n, "fake_start_ms")
	b.ReportMetric(float64((total-own).Milliseconds())/n, "overhead_ms")
}

// BenchmarkHangDetection reports the time from the hang cue to the hung
// gateway's replacement (a new pid, its last exit "hung") against the
// window failures×interval (+ kill_timeout), for the e2e test settings and
// the defaults (interval 10s, timeout 5s, failures 3, kill_timeout 1s; the
// fake ticks every 30 s as the real gateway does, so the WebSocket probe
// adds nothing within the window). The cue lands at a random phase of the
// check period; max_ms is the worst of b.N.
//
//	go test ./e2e -run '^$' -bench 'HangDetection' -benchtime 5x
func BenchmarkHangDetection(b *testing.B) {
	cases := []struct {
		name            string
		health          string
		gwEnv           map[string]string
		window, killTmo time.Duration
	}{
		{name: "test", window: 3 * 150 * time.Millisecond, killTmo: time.Second},
		{name: "default", window: 3 * 10 * time.Second, killTmo: time.Second,
			health: "health:\n  startup_interval: 50ms\n  kill_timeout: 1s\n",
			gwEnv:  map[string]string{"FAKE_GATEWAY_TICK_MS": "30000"}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			in := newInstance(b, opts{health: tc.health, gwEnv: tc.gwEnv})
			var total, worst time.Duration
			for range b.N {
				old := in.waitHealthy().Gateway.PID
				t0 := time.Now()
				in.cue("hang")
				t1 := pollStatus(b, in, tc.window+30*time.Second, func(s apitype.Status) bool {
					return s.Gateway.PID != old && s.Gateway.PID > 0 && s.Gateway.LastExit != nil && strings.Contains(s.Gateway.LastExit.Reason, "hung")
				})
				d := t1.Sub(t0)
				total += d
				worst = max(worst, d)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "detect_and_kill_ms")
			b.ReportMetric(float64(worst.Milliseconds()), "max_ms")
			b.ReportMetric(float64(tc.window.Milliseconds()), "window_ms")
			b.ReportMetric(float64((tc.window + tc.killTmo).Milliseconds()), "window_plus_kill_ms")
		})
	}
}

// BenchmarkIdle reports openclawd's RSS and CPU over 20 s of idle with the
// default probe settings and a healthy gateway.
func BenchmarkIdle(b *testing.B) {
	in := newInstance(b, opts{health: "health:\n  startup_interval: 50ms\n"})
	in.waitHealthy()
	pid := in.cmd.Process.Pid
	const window = 20 * time.Second
	for range b.N {
		c0 := cpuTicks(b, pid)
		time.Sleep(window) // the measurement window itself
		c1 := cpuTicks(b, pid)
		b.ReportMetric(float64(c1-c0)/100/window.Seconds()*100, "cpu_%")
	}
	b.ReportMetric(float64(rssKB(b, pid))/1024, "rss_MB")
}

// BenchmarkFlood60s runs a 60 s flood at 1,000 lines/s through the real
// binary and reports what reached openclawd's log file.
func BenchmarkFlood60s(b *testing.B) {
	for _, kind := range []string{"same", "varied"} {
		b.Run(kind, func(b *testing.B) {
			for range b.N {
				in := newInstance(b, opts{})
				in.waitHealthy()
				logFile := filepath.Join(in.dir, "state", "logs", "openclawd.log")
				lines0, bytes0 := len(readLines(b, logFile)), fileSize(b, logFile)
				in.cue("flood?rate=1000&seconds=60&kind=" + kind)
				fgtest.WaitFor(b, 120*time.Second, "the flood to end", func() bool { return len(in.eventLines("flood-done")) > 0 })
				in.stop()
				b.ReportMetric(float64(len(readLines(b, logFile))-lines0), "lines_out")
				b.ReportMetric(float64(fileSize(b, logFile)-bytes0), "bytes_out")
				b.ReportMetric(60000, "lines_in")
			}
		})
	}
}

func fileSize(t testing.TB, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func cpuTicks(t testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

func rssKB(t testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}
