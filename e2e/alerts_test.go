package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/alerttest"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// receivers are one of each real receiver, and the config naming them.
type receivers struct {
	web, ntfy, beat *alerttest.HTTP
	mail            *alerttest.SMTP
}

func newReceivers(t *testing.T) *receivers {
	return &receivers{web: alerttest.NewHTTP(t), ntfy: alerttest.NewHTTP(t), beat: alerttest.NewHTTP(t), mail: alerttest.NewSMTP(t)}
}

// alertInstance is an openclawd (the fake gateway) with alerts to r. The
// webhook's path is a secret from the env file. Timings are short: the
// grace 1s, a problem resolved after 2s gone, the gateway stable after 3s.
func alertInstance(t *testing.T, r *receivers, grace string) *instance {
	t.Helper()
	in := newInstance(t, opts{noStart: true})
	env := filepath.Join(in.dir, "gateway.env")
	writeFile(t, env, "OPENCLAWD_HOOK_PATH=hook-s3cr3t-9f2c\n", 0o600, serviceIDs.uid)
	b, err := os.ReadFile(in.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "gateway:\n", "gateway:\n  env_file: "+env+"\n", 1)
	cfg = strings.Replace(cfg, "  max_delay: 1s\n", "  max_delay: 1s\n  stable_after: 3s\n", 1)
	cfg += fmt.Sprintf(`backup:
  every: 0s # the fake has no openclaw to back up with
alerts:
  grace: %s
  resolve_after: 2s
  min_interval: 1s
  notify:
    - {name: hook, url: "generic+%s/${OPENCLAWD_HOOK_PATH}"}
    - {name: phone, url: "ntfy://%s/openclawd?scheme=http"}
    - {name: mail, url: "smtp://%s/?from=bot@example.com&to=owner@example.com&auth=None&encryption=None&usestarttls=No"}
  heartbeat:
    url: %s/ping/abc
    every: 10s
`, grace, r.web.URL, r.ntfy.Host, r.mail.Addr, r.beat.URL)
	if err := os.WriteFile(in.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

// An outage is one alert on every channel, and its recovery one
// "resolved"; the heartbeat says /fail meanwhile.
func TestAlertOutageAndRecovery(t *testing.T) {
	r := newReceivers(t)
	in := alertInstance(t, r, "1s")
	in.start()
	st := in.waitHealthy()
	waitFor(t, 20*time.Second, "a heartbeat ping", func() bool { return len(r.beat.Got()) > 0 })
	if g := r.beat.Got()[0]; g.Method != "GET" || g.Path != "/ping/abc" {
		t.Fatalf("heartbeat while healthy: %s %s", g.Method, g.Path)
	}

	// `alert test` reaches every channel and says so.
	out, rc := in.cli("alert", "test", "--socket", in.sock)
	if rc != 0 || strings.Count("\n"+out, "\nok ") != 4 {
		t.Fatalf("alert test (rc %d):\n%s", rc, out)
	}
	for _, got := range [][]alerttest.Received{r.web.Got(), r.ntfy.Got(), r.mail.Got()} {
		if len(got) != 1 || !strings.Contains(got[0].Body, "test from openclawd") {
			t.Fatalf("test message: %+v", got)
		}
	}
	if p := r.web.Got()[0].Path; p != "/hook-s3cr3t-9f2c" {
		t.Fatalf("webhook path %q: the env file's secret was not filled in", p)
	}

	// The gateway dies, and every restart crashes.
	in.setMode("crash")
	killed := time.Now()
	if err := syscall.Kill(st.Gateway.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	problem := func(rs []alerttest.Received) int { return len(alerttest.Matching(rs, "PROBLEM gateway_down")) }
	waitFor(t, 30*time.Second, "the alert at the webhook", func() bool { return problem(r.web.Got()) > 0 })
	t.Logf("FIGURE gateway killed -> alert received: %s (grace 1s)", alerttest.Matching(r.web.Got(), "PROBLEM gateway_down")[0].At.Sub(killed).Round(10*time.Millisecond))
	waitFor(t, 30*time.Second, "the alert on ntfy and by mail", func() bool { return problem(r.ntfy.Got()) > 0 && problem(r.mail.Got()) > 0 })
	waitFor(t, 30*time.Second, "a /fail ping", func() bool {
		return len(alerttest.Matching(r.beat.Got(), "gateway")) > 0
	})
	if f := alerttest.Matching(r.beat.Got(), "gateway")[0]; f.Method != "POST" || f.Path != "/ping/abc/fail" {
		t.Fatalf("heartbeat during the outage: %s %s", f.Method, f.Path)
	}
	// Let it crash on: five more crashes, and still one message each.
	crashes := in.mustStatus().Gateway.Crashes
	in.waitStatus("five more crashes", time.Minute, func(s apitype.Status, _ int) bool { return s.Gateway.Crashes >= crashes+5 })
	st, _ = in.status()
	if st.Alerts == nil || len(st.Alerts.Open) != 1 || st.Alerts.Open[0].Key != "gateway_down" {
		t.Fatalf("status alerts: %+v", st.Alerts)
	}
	out, _ = in.cli("status", "--socket", in.sock)
	if !strings.Contains(out, "alert      gateway_down (error") || !strings.Contains(out, "notify     hook (generic") {
		t.Fatalf("status does not list the alert and channels:\n%s", out)
	}

	in.setMode("normal")
	resolved := func(rs []alerttest.Received) int { return len(alerttest.Matching(rs, "RESOLVED gateway_down")) }
	waitFor(t, 90*time.Second, "resolved on every channel", func() bool {
		return resolved(r.web.Got()) > 0 && resolved(r.ntfy.Got()) > 0 && resolved(r.mail.Got()) > 0
	})
	for name, got := range map[string][]alerttest.Received{"hook": r.web.Got(), "ntfy": r.ntfy.Got(), "mail": r.mail.Got()} {
		if problem(got) != 1 || resolved(got) != 1 {
			t.Errorf("%s received %d problem and %d resolved messages, want 1 and 1", name, problem(got), resolved(got))
		}
	}
	st = in.waitHealthy()
	if st.Alerts != nil && len(st.Alerts.Open) != 0 {
		t.Fatalf("open alerts after recovery: %+v", st.Alerts.Open)
	}
	// The secret never reached openclawd's log.
	if strings.Contains(in.stderr.String(), "hook-s3cr3t-9f2c") {
		t.Error("the webhook's secret path is in openclawd's log")
	}
}

// A notifier that is down during the outage gets the alert when it is
// back, even after openclawd restarted in between.
func TestAlertDeliveredAfterNotifierAndRestart(t *testing.T) {
	r := newReceivers(t)
	in := alertInstance(t, r, "1s")
	r.web.SetDown(true)
	in.start()
	in.waitHealthy()
	in.setMode("exit78") // fails for good: announced at once
	if out, rc := in.cli("restart", "--socket", in.sock); rc != 0 {
		t.Fatalf("restart: %s", out)
	}
	in.waitStatus("the failure and a failing notifier", time.Minute, func(s apitype.Status, _ int) bool {
		if s.Alerts == nil || len(s.Alerts.Open) == 0 {
			return false
		}
		for _, c := range s.Alerts.Channels {
			if c.Name == "hook" && c.LastError != "" && c.Pending > 0 {
				return true
			}
		}
		return false
	})
	st, _ := in.status()
	found := false
	for _, w := range st.Warnings {
		found = found || (w.Code == "notifier_failing" && strings.Contains(w.Text, "hook") && !strings.Contains(w.Text, "s3cr3t"))
	}
	if !found {
		t.Fatalf("no notifier_failing warning without the secret: %+v", st.Warnings)
	}
	if len(r.web.Got()) != 0 || r.web.Refused() == 0 {
		t.Fatalf("the webhook took %d and refused %d", len(r.web.Got()), r.web.Refused())
	}
	// openclawd restarts with the message still queued; the notifier comes back.
	if rc := in.stop(); rc != 0 {
		t.Fatalf("openclawd exited %d", rc)
	}
	b, err := os.ReadFile(filepath.Join(in.dir, "state", "alerts", "alerts.json"))
	if err != nil || !strings.Contains(string(b), `"kind": "problem"`) || strings.Contains(string(b), "s3cr3t") {
		t.Fatalf("outbox on disk (%v):\n%s", err, b)
	}
	r.web.SetDown(false)
	in.setMode("normal")
	in.start()
	waitFor(t, time.Minute, "the queued alert, after the restart", func() bool {
		return len(alerttest.Matching(r.web.Got(), "PROBLEM gateway_down", "refused")) > 0 ||
			len(alerttest.Matching(r.web.Got(), "PROBLEM gateway_down")) > 0
	})
	in.waitHealthy()
	waitFor(t, time.Minute, "resolved, after the restart", func() bool {
		return len(alerttest.Matching(r.web.Got(), "RESOLVED gateway_down")) > 0
	})
	got := r.web.Got()
	if p, res := len(alerttest.Matching(got, "PROBLEM gateway_down")), len(alerttest.Matching(got, "RESOLVED gateway_down")); p != 1 || res != 1 {
		t.Fatalf("webhook got %d problem and %d resolved messages, want 1 and 1:\n%+v", p, res, got)
	}
	// The other channels had it at once, and once.
	if n := len(alerttest.Matching(r.ntfy.Got(), "PROBLEM gateway_down")); n != 1 {
		t.Fatalf("ntfy got %d problem messages", n)
	}
}

// mustStatus is status without the exit code.
func (in *instance) mustStatus() apitype.Status {
	in.t.Helper()
	st, _ := in.status()
	return st
}

// A crash loop is one alert, however long it lasts: ten minutes of a
// gateway that crashes a second after each start (with the defaults:
// grace 2m, resolve after 1m, 30s between messages), then one resolved.
// It runs beside the other parallel tests; OPENCLAWD_TEST_CRASHLOOP
// shortens it while developing.
func TestAlertCrashLoopIsOneAlert(t *testing.T) {
	t.Parallel()
	loop := 10 * time.Minute
	if v := os.Getenv("OPENCLAWD_TEST_CRASHLOOP"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		loop = d
	}
	r := newReceivers(t)
	in := alertInstance(t, r, "2m")
	b, _ := os.ReadFile(in.cfg)
	cfg := strings.NewReplacer("  resolve_after: 2s\n", "", "  min_interval: 1s\n", "").Replace(string(b))
	if err := os.WriteFile(in.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	in.start()
	in.waitHealthy()
	in.setMode("crash")
	began := time.Now()
	if out, rc := in.cli("restart", "--socket", in.sock); rc != 0 {
		t.Fatalf("restart: %s", out)
	}
	in.waitStatus("the crash loop", time.Minute, func(s apitype.Status, _ int) bool { return s.Gateway.Code == "crash_loop" })
	problem := func(rs []alerttest.Received) int { return len(alerttest.Matching(rs, "PROBLEM gateway_down")) }
	waitFor(t, 4*time.Minute, "the alert", func() bool { return problem(r.web.Got()) > 0 })
	// The loop goes on: poll status now and then until it has lasted.
	var starts int
	for time.Since(began) < loop {
		time.Sleep(5 * time.Second) // the test's pace through a ten-minute loop, not a wait for a condition
		starts = len(in.eventLines("start "))
	}
	all := len(r.web.Got()) + len(r.ntfy.Got()) + len(r.mail.Got())
	t.Logf("FIGURE %s crash loop: %d gateway starts, %d messages on 3 channels (%d on each), %d alert log lines",
		loop, starts, all, problem(r.web.Got()), strings.Count(in.stderr.String(), "alert=gateway_down"))
	if starts < 50 {
		t.Fatalf("only %d starts in %s: not a crash loop", starts, loop)
	}
	// Only the gateway's alert counts: a loaded test host may be short of
	// disk or memory, which is news of its own.
	for name, got := range map[string][]alerttest.Received{"hook": r.web.Got(), "ntfy": r.ntfy.Got(), "mail": r.mail.Got()} {
		if n := strings.Count(bodies(got), "PROBLEM gateway_down"); n != 1 {
			t.Errorf("%s was told of gateway_down %d times during the loop, want once:\n%+v", name, n, got)
		}
	}
	if n := strings.Count(in.stderr.String(), "alert=gateway_down"); n != 1 {
		t.Errorf("openclawd logged %d alert lines for gateway_down, want 1", n)
	}
	in.setMode("normal")
	waitFor(t, 5*time.Minute, "one resolved", func() bool { return len(alerttest.Matching(r.web.Got(), "RESOLVED gateway_down")) == 1 })
}

func bodies(rs []alerttest.Received) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Body)
		b.WriteString("\n")
	}
	return b.String()
}
