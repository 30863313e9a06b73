package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openclawd/openclawd/alert"
	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/supervisor"
)

// Warning codes that are alerts too. The others (legacy state, running as
// root, pins not running, …) are advice for whoever reads status, not news
// worth a message.
var alertCodes = map[string]bool{
	"gateway_token_mismatch": true,
	"backup_failed":          true,
	"backup_stale":           true,
	"backup_copy_failed":     true,
	"backup_copy_stale":      true,
	"upgrade_rolled_back":    true,
	"gateway_safe_mode":      true,
	"disk_low":               true,
	"memory_low":             true,
	"oom_kill":               true,
	"cert_renewal_failing":   true,
	"cert_expiring":          true,
	"spend_daily":            true,
	"spend_monthly":          true,
	"spend_paused":           true,
}

// alertState is what the daemon remembers between observations to see
// events the status can't show by itself.
type alertState struct {
	mu        sync.Mutex // guards oom*; crashLoop is watchAlerts' own
	crashLoop bool       // seen crash-looping, and not yet stable since
	oomCount  int64      // the kernel's oom_kill counter at the last look
	oomSeen   time.Time  // last gateway exit seen
	oomAt     time.Time  // last gateway exit the OOM killer caused
	safeMode  atomic.Int64
}

// AlertsFile is where the alerts' state and outbox live.
func AlertsFile(cfg *config.Config) string {
	return filepath.Join(cfg.Layout().Alerts(), "alerts.json")
}

// startAlerts creates the alert manager and its delivery loop. A damaged
// or unreadable state is logged by the manager and never stops openclawd.
func (d *Daemon) startAlerts(ctx context.Context) error {
	cfg := d.config()
	host, _ := os.Hostname()
	m, err := alert.New(alert.Options{
		Path:           AlertsFile(cfg),
		Host:           host,
		Channels:       channels(cfg),
		Heartbeat:      cfg.Alerts.Heartbeat.URL,
		HeartbeatEvery: cfg.Alerts.Heartbeat.Every,
		ResolveAfter:   cfg.Alerts.ResolveAfter,
		MinInterval:    cfg.Alerts.MinInterval,
		Expand:         d.expandSecret,
		Redact:         d.secrets.Redact,
		Log:            d.log.With("component", "alerts"),
	})
	if err != nil {
		return err
	}
	d.alertsMgr = m
	d.alerts.oomCount = oomKills()
	m.Start(ctx)
	go d.watchAlerts(ctx)
	return nil
}

func channels(cfg *config.Config) []alert.Channel {
	var cs []alert.Channel
	for _, n := range cfg.Alerts.Notify {
		cs = append(cs, alert.Channel{Name: n.Name, URL: n.URL})
	}
	return cs
}

// expandSecret fills ${OPENCLAWD_…} from the env file as it is now.
func (d *Daemon) expandSecret(u string) (string, error) {
	cfg := d.config()
	if len(alert.Placeholders(u)) == 0 {
		return u, nil
	}
	env, err := cfg.ReadEnv()
	if err != nil {
		return "", err
	}
	return alert.Expander(env, cfg.Gateway.EnvFile)(u)
}

func (d *Daemon) reconfigureAlerts(cfg *config.Config) {
	if d.alertsMgr == nil {
		return
	}
	a := cfg.Alerts
	d.alertsMgr.Reconfigure(channels(cfg), a.Heartbeat.URL, a.Heartbeat.Every, a.ResolveAfter, a.MinInterval)
}

// watchAlerts looks at the status every two seconds and hands the manager
// what is wrong now.
func (d *Daemon) watchAlerts(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := d.Status()
		if st.State == apitype.DaemonStopping {
			return // a stop asked for is not an outage
		}
		d.alertsMgr.Observe(d.conditions(st, time.Now()))
	}
}

// conditions turns a status into alert conditions: the gateway's liveness
// as one condition (a crash loop, a failed start, a hang: one problem),
// and the warnings worth a message.
func (d *Daemon) conditions(st apitype.Status, now time.Time) []alert.Condition {
	cfg := d.config()
	var cs []alert.Condition
	if c, ok := d.gatewayCondition(st, cfg); ok {
		cs = append(cs, c)
	}
	for _, w := range st.Warnings {
		if !alertCodes[w.Code] && !isProxyCode(w.Code) {
			continue
		}
		sev := alert.Warning
		if w.Severity == "error" {
			sev = alert.Error
		}
		c := alert.Condition{Key: w.Code, Severity: sev, Text: w.Text, Fix: w.Fix}
		if isProxyCode(w.Code) {
			// A self-check through the front door can fail for a minute
			// while a certificate is obtained.
			c.Key, c.Delay = "self_check", cfg.Alerts.Grace
		}
		if w.Code == "memory_low" {
			c.Delay = time.Minute // a burst is no news
		}
		cs = append(cs, c)
	}
	return dedupe(cs)
}

// dedupe keeps the first condition of each key.
func dedupe(cs []alert.Condition) []alert.Condition {
	seen := map[string]bool{}
	out := cs[:0]
	for _, c := range cs {
		if !seen[c.Key] {
			seen[c.Key] = true
			out = append(out, c)
		}
	}
	return out
}

// gatewayCondition says whether the gateway is down, and why, in one
// condition: it holds through a whole crash loop, until the gateway has
// been stable for restart.stable_after.
func (d *Daemon) gatewayCondition(st apitype.Status, cfg *config.Config) (alert.Condition, bool) {
	ss := d.sup.Status()
	g := st.Gateway
	up := g.State == apitype.GatewayRunning && st.Health.Live && st.Health.Started
	// The supervisor counts crashes until the next exit after a stable
	// run, so "stable" here is the same rule seen from the living process.
	if ss.Code == supervisor.CodeCrashLoop {
		d.alerts.crashLoop = true
	} else if ss.Crashes == 0 || (up && !ss.HealthyAt.IsZero() && time.Since(ss.HealthyAt) >= cfg.Restart.StableAfter) {
		d.alerts.crashLoop = false
	}
	hung := !ss.HungAt.IsZero() && (ss.HealthyAt.Before(ss.HungAt) || time.Since(ss.HungAt) < cfg.Alerts.ResolveAfter)
	if st.State == apitype.DaemonStarting && !up && g.Reason != "" && ss.PID == 0 && ss.Restarts == 0 && g.State != apitype.GatewayFailed {
		return alert.Condition{}, false // the first runtime is still being installed
	}
	if up && !d.alerts.crashLoop && !hung {
		return alert.Condition{}, false
	}
	if ss.State == supervisor.Paused {
		return alert.Condition{}, false // held on purpose: an upgrade, a restore, the spend cap say why
	}
	c := alert.Condition{Key: "gateway_down", Severity: alert.Error, Delay: cfg.Alerts.Grace,
		Fix: "Read the gateway's errors with `openclawd logs -n 100`, and `openclawd status` for what openclawd sees."}
	reason := g.Reason
	if reason == "" && g.LastExit != nil {
		reason = g.LastExit.Reason
	}
	switch {
	case g.State == apitype.GatewayFailed:
		c.Delay = 0 // it will not come back by itself
		c.Text = "the gateway failed and openclawd will not restart it until the cause is fixed: " + reason
		for _, w := range st.Warnings {
			if w.Code == g.Code && w.Fix != "" {
				c.Fix = w.Fix
			}
		}
	case d.alerts.crashLoop:
		c.Text = fmt.Sprintf("the gateway is crash-looping (%d crashes in a row): %s", ss.Crashes, reason)
	case hung:
		c.Delay = 0
		c.Text = "the gateway stopped answering and openclawd restarted it: " + ss.HungReason
	default:
		c.Text = fmt.Sprintf("the gateway is down (%s): %s", g.State, reason)
	}
	return c, true
}

// isProxyCode says whether a warning comes from the wss:// self-check.
func isProxyCode(code string) bool {
	switch code {
	case health.ProxyDNSUnresolved, health.ProxyLoopback, health.ProxyUnreachable, health.ProxyCertUntrusted,
		health.ProxyCertName, health.ProxyCertExpired, health.ProxyNotThisHost, health.ProxyTLS,
		health.ProxyAttribution, health.ProxyUpgrade, health.ProxyOrigin, health.ProxyPairing, health.ProxyToken,
		health.ProxyRateLimited, health.ProxyRefused, health.ProxyProtocol:
		return true
	}
	return false
}

// alertsStatus is status' view of the manager.
func (d *Daemon) alertsStatus() (*apitype.Alerts, []apitype.Warning) {
	if d.alertsMgr == nil {
		return nil, nil
	}
	s := d.alertsMgr.Status()
	out := &apitype.Alerts{}
	for _, a := range s.Open {
		out.Open = append(out.Open, apitype.Alert{Key: a.Key, Severity: a.Severity, Text: a.Text, Fix: a.Fix, Since: a.Since.UTC(), Opened: a.Opened.UTC()})
	}
	var ws []apitype.Warning
	conv := func(c alert.ChannelStatus) apitype.AlertChannel {
		ac := apitype.AlertChannel{Name: c.Name, Service: c.Service, Pending: c.Pending, Sent: c.Sent, LastError: c.LastError,
			LastOK: c.LastOK.UTC(), FailingSince: c.FailingSince.UTC(), NextTry: c.NextTry.UTC()}
		if c.LastError != "" {
			ws = append(ws, apitype.Warning{Code: "notifier_failing", Severity: "warning",
				Text: fmt.Sprintf("alert channel %s (%s) is failing since %s: %s; %d message(s) wait in the outbox", c.Name, c.Service, c.FailingSince.UTC().Format(time.RFC3339), c.LastError, c.Pending),
				Fix:  "Check its URL in the config and its secrets in the env file, then `sudo openclawd alert test`; openclawd keeps retrying."})
		}
		return ac
	}
	for _, c := range s.Channels {
		out.Channels = append(out.Channels, conv(c))
	}
	if s.Heartbeat != nil {
		hb := conv(*s.Heartbeat)
		out.Heartbeat = &hb
	}
	return out, ws
}

// TestAlerts implements localapi.Backend: `openclawd alert test`.
func (d *Daemon) TestAlerts(ctx context.Context) []apitype.AlertTest {
	if d.alertsMgr == nil {
		return nil
	}
	var out []apitype.AlertTest
	for _, r := range d.alertsMgr.Test(ctx) {
		t := apitype.AlertTest{Name: r.Name, Service: r.Service, OK: r.Err == nil}
		if r.Err != nil {
			t.Error = r.Err.Error()
		}
		out = append(out, t)
	}
	return out
}

// gatewayLine hears the gateway's own account of its crash-loop breaker
// (openclaw's run loop logs both; in safe mode its /readyz can stay 200
// while no channel starts), and of its reload of the spend pause.
func (d *Daemon) gatewayLine(line string) {
	d.mem.lastLine.Store(time.Now().UnixNano())
	switch {
	case strings.Contains(line, "restart-loop breaker tripped"):
		d.alerts.safeMode.Store(int64(d.sup.Status().PID))
	case strings.Contains(line, "restart-loop breaker recovered"):
		d.alerts.safeMode.Store(0)
	case strings.Contains(line, "config hot reload applied") && strings.Contains(line, "agents.defaults.model"):
		d.spend.applied.Store(true) // the spend pause (or its undo) took
	}
}

// hostWarnings are the host's problems: the gateway's safe mode, an OOM
// kill, low disk and memory.
func (d *Daemon) hostWarnings(cfg *config.Config, ss supervisor.Status, now time.Time) []apitype.Warning {
	var ws []apitype.Warning
	if pid := d.alerts.safeMode.Load(); pid != 0 && int(pid) == ss.PID {
		// A warning, not an error: the gateway itself is healthy, and
		// leaves safe mode by itself; the alert still goes out.
		ws = append(ws, apitype.Warning{Code: "gateway_safe_mode", Severity: "warning",
			Text: "the gateway tripped its crash-loop breaker: it runs, but starts no channel, so the bot does not answer",
			Fix:  "Find the crash in `openclawd logs -n 200`, fix it, then `sudo openclawd restart`; the gateway also leaves safe mode by itself once its restarts are 5 minutes apart."})
	}
	d.alerts.mu.Lock()
	defer d.alerts.mu.Unlock()
	if le := ss.LastExit; le != nil && le.At.After(d.alerts.oomSeen) {
		d.alerts.oomSeen = le.At
		if n := oomKills(); n > d.alerts.oomCount {
			d.alerts.oomCount = n
			if le.Signal == "SIGKILL" {
				d.alerts.oomAt = le.At
			}
		}
	}
	if at := d.alerts.oomAt; !at.IsZero() && now.Sub(at) < time.Hour {
		ws = append(ws, apitype.Warning{Code: "oom_kill", Severity: "warning",
			Text: fmt.Sprintf("the kernel killed the gateway for lack of memory at %s", at.UTC().Format(time.RFC3339)),
			Fix:  "Add swap (`sudo openclawd doctor --fix` makes a swapfile) or memory: the gateway peaks near 0.9 GB at start; `openclawd status` shows its memory and trend."})
	}
	if free, total, err := fsutil.DiskSpace(cfg.StateDir); err == nil && total > 0 && (free < 1<<30 || free*20 < total) {
		ws = append(ws, apitype.Warning{Code: "disk_low", Severity: "warning",
			Text: fmt.Sprintf("the disk of %s has %s free of %s", cfg.StateDir, mib(free), mib(total)),
			Fix:  "Free space: `openclawd runtime prune`, fewer backups (backup.keep), `journalctl --vacuum-size=100M`."})
	}
	if avail, total, ok := memAvailable(); ok && total > 0 && avail*20 < total {
		ws = append(ws, apitype.Warning{Code: "memory_low", Severity: "warning",
			Text: fmt.Sprintf("the host has %s of memory available of %s", mib(avail), mib(total)),
			Fix:  "Add swap, or stop what else runs on this host; the gateway alone needs about 1 GB."})
	}
	return ws
}

func mib(n uint64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// certWarnings: a renewal that fails, and a certificate near its end. Only
// ACME certificates: an internal CA's live for hours and renew on their own.
func certWarnings(cfg *config.Config, t *apitype.TLS) []apitype.Warning {
	if t == nil || cfg.TLS.Mode != "acme" {
		return nil
	}
	var ws []apitype.Warning
	for _, n := range t.Names {
		if n.LastError != "" {
			ws = append(ws, apitype.Warning{Code: "cert_renewal_failing", Severity: "warning",
				Text: fmt.Sprintf("obtaining or renewing the certificate for %s fails: %s", n.Name, n.LastError),
				Fix:  fmt.Sprintf("Ports %d and %d must reach this host from the Internet, and DNS for %s must point here; openclawd keeps trying.", cfg.TLS.HTTPPort, cfg.TLS.HTTPSPort, n.Name)})
		}
		if n.NotAfter != nil && n.DaysLeft < 14 {
			ws = append(ws, apitype.Warning{Code: "cert_expiring", Severity: "warning",
				Text: fmt.Sprintf("the certificate for %s expires in %d days (%s) and was not renewed", n.Name, n.DaysLeft, n.NotAfter.Format(time.DateOnly)),
				Fix:  "See the certificate's last error in `openclawd status` and `openclawd logs -n 100`; ACME renews 30 days ahead."})
		}
	}
	return ws
}
