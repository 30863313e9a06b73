package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/supervisor"
)

// Status implements localapi.Backend: one snapshot that says whether all
// is well, and if not, why and what to do.
func (d *Daemon) Status() apitype.Status {
	cfg := d.config()
	d.mu.Lock()
	stopping, tokenSrc := d.stopping, d.tokenSrc
	d.mu.Unlock()
	st := apitype.Status{
		State:   apitype.DaemonRunning,
		Version: Version,
		PID:     os.Getpid(),
		UptimeS: int64(time.Since(d.started).Seconds()),
		Config:  cfg.Path,
	}
	if d.sup == nil || d.health == nil {
		st.State = apitype.DaemonStarting
		st.Gateway.State = apitype.GatewayStopped
		return st
	}
	ss, hs := d.sup.Status(), d.health.Snapshot()
	st.Gateway = gatewayStatus(ss, hs, cfg.Gateway.Port)
	st.Gateway.TokenSource = tokenSrc
	if phase := d.prov.Phase(); phase != "" && ss.PID == 0 {
		st.Gateway.Reason = phase
	}
	if cfg.TLS.Mode != "off" {
		st.TLS = d.tlsStatus(cfg)
	}
	var proxyWarnings []apitype.Warning
	if st.TLS != nil {
		for _, n := range st.TLS.Names {
			if w := proxyWarning(cfg, n.Name, n.Check, st.TLS.RootCert); w != nil {
				proxyWarnings = append(proxyWarnings, *w)
			}
		}
	}
	var fallback error
	st.Gateway.Runtime, fallback = d.prov.InUse()
	st.Health = healthStatus(hs, cfg.Health.DeepProbe(), ss)
	switch {
	case stopping:
		st.State = apitype.DaemonStopping
	case ss.Restarts == 0 && ss.HealthyAt.IsZero() && ss.State == supervisor.Starting:
		st.State = apitype.DaemonStarting
	}
	st.Healthy = st.Gateway.State == apitype.GatewayRunning && st.Health.Live && st.Health.Started
	st.Warnings = append(warnings(ss, hs, cfg.Path), legacyWarnings(cfg)...)
	st.Warnings = append(st.Warnings, proxyWarnings...)
	var bw []apitype.Warning
	st.Backup, bw = d.backupStatus(cfg, time.Now())
	st.Warnings = append(st.Warnings, bw...)
	st.Upgrade, bw = d.upgradeStatus(time.Now())
	st.Warnings = append(st.Warnings, bw...)
	st.Warnings = append(st.Warnings, certWarnings(cfg, st.TLS)...)
	st.Warnings = append(st.Warnings, d.hostWarnings(cfg, ss, time.Now())...)
	st.Gateway.Memory, bw = d.memoryStatus(cfg, time.Now())
	st.Warnings = append(st.Warnings, bw...)
	st.Spend, bw = d.spendStatus(cfg)
	st.Warnings = append(st.Warnings, bw...)
	st.Alerts, bw = d.alertsStatus()
	st.Warnings = append(st.Warnings, bw...)
	if os.Geteuid() == 0 {
		st.Warnings = append(st.Warnings, apitype.Warning{Code: "running_as_root", Severity: "warning",
			Text: "openclawd and the gateway run as root (user: root): the gateway runs an AI agent with tools, and it would act as root",
			Fix:  "Create an account for it (`useradd --system openclawd`), set user: openclawd in " + cfg.Path + ", and restart openclawd."})
	}
	if fallback != nil {
		st.Warnings = append(st.Warnings, apitype.Warning{Code: "runtime_upgrade_failed", Severity: "warning",
			Text: "the configured runtime could not be provisioned, so the gateway runs the previous one: " + fallback.Error(),
			Fix:  "Fix the cause, then run `sudo openclawd runtime install` and `sudo openclawd restart`."})
	}
	for _, w := range st.Warnings {
		if w.Severity == "error" {
			st.Healthy = false // e.g. the gateway refuses openclawd's token: not well
		}
	}
	for _, w := range st.Warnings {
		if w.Fix != "" {
			st.NextSteps = append(st.NextSteps, w.Fix)
		}
	}
	return st
}

// legacyWarnings reports clawdbot-era state: openclawd never reads it by
// itself, since reading one name and writing the other lost a day of
// backups once.
func legacyWarnings(cfg *config.Config) []apitype.Warning {
	var ws []apitype.Warning
	gw := GatewayStateDir(cfg)
	for _, l := range openclaw.FindLegacy(gw, LegacyHomes(cfg)...) {
		fix := fmt.Sprintf("Copy it in with `sudo openclawd migrate-legacy --from %s` (the original is kept), or move it away.", l.Path)
		if filepath.Dir(l.Path) == gw {
			fix = fmt.Sprintf("Merge what you need from %s into openclaw.json beside it, then remove it.", l.Path)
		} else if l.Kind == "config" {
			fix = fmt.Sprintf("Copy it in with `sudo openclawd migrate-legacy --from %s` (the original is kept), or move it away.", filepath.Dir(l.Path))
		}
		ws = append(ws, apitype.Warning{Code: "legacy_state", Severity: "warning",
			Text: fmt.Sprintf("found state under the gateway's old name at %s; openclawd does not read it", l.Path), Fix: fix})
	}
	return ws
}

func gatewayStatus(ss supervisor.Status, hs health.Status, port int) apitype.Gateway {
	g := apitype.Gateway{
		State:    ss.State.String(),
		Reason:   ss.Reason,
		Code:     ss.Code,
		PID:      ss.PID,
		Port:     port,
		Restarts: ss.Restarts,
		Crashes:  ss.Crashes,
	}
	if ss.State == supervisor.Running && ss.PID == 0 { // exited; the next start is being prepared
		g.State = apitype.GatewayStarting
	}
	if g.State == apitype.GatewayRunning && (!hs.Live || hs.ConsecutiveFailures > 0) {
		g.State = apitype.GatewayUnhealthy
		g.Reason = "failing health checks: " + hs.LastError
	}
	if !ss.SpawnedAt.IsZero() && ss.PID != 0 {
		g.UptimeS = int64(time.Since(ss.SpawnedAt).Seconds())
		g.RSSBytes, g.TreeRSS = treeRSS(ss.PID)
	}
	if ss.State == supervisor.Backoff && !ss.NextStart.IsZero() {
		t := ss.NextStart.UTC()
		g.NextStartAt = &t
	}
	if le := ss.LastExit; le != nil {
		g.LastExit = &apitype.Exit{Code: le.Code, Signal: le.Signal, At: le.At.UTC(), Reason: le.Reason}
	}
	return g
}

func healthStatus(hs health.Status, deep bool, ss supervisor.Status) apitype.Health {
	h := apitype.Health{
		Live:                hs.Live,
		Started:             hs.Started,
		LastError:           hs.LastError,
		ConsecutiveFailures: hs.ConsecutiveFailures,
		Version:             hs.Version,
		Deep: apitype.Deep{
			Enabled:   deep,
			Connected: hs.Deep.Connected,
			HelloOK:   hs.Deep.HelloOK,
			Error:     hs.Deep.Error,
			Code:      hs.Deep.Code,
		},
	}
	if ss.PID == 0 || ss.State != supervisor.Running {
		// No process, or a new one: earlier probe results don't apply.
		h.Live, h.Started = false, false
	}
	h.CheckedAt = timePtr(hs.CheckedAt)
	h.Deep.LastTick = timePtr(hs.Deep.LastTick)
	h.Deep.LastHealth = timePtr(hs.Deep.LastHealth)
	return h
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// warnings turns the current problem into a stable code, a sentence and
// the fix.
func warnings(ss supervisor.Status, hs health.Status, cfgPath string) []apitype.Warning {
	var ws []apitype.Warning
	add := func(code, sev, text, fix string) {
		ws = append(ws, apitype.Warning{Code: code, Severity: sev, Text: text, Fix: fix})
	}
	restart := "then run `sudo openclawd restart`"
	switch ss.Code {
	case supervisor.CodeConfigInvalid:
		add(ss.Code, "error", ss.Reason, "Fix the gateway configuration named in the message, "+restart+" (openclawd also retries when its config or env file changes).")
	case supervisor.CodeNotLoopback:
		add(ss.Code, "error", ss.Reason, "Make the gateway bind loopback only (check gateway.command and gateway.bind), "+restart+".")
	case supervisor.CodePortInUse:
		add(ss.Code, "error", ss.Reason, fmt.Sprintf("Stop the process named above, or set gateway.port in %s to a free port; openclawd retries by itself.", cfgPath))
	case supervisor.CodeSpec:
		add(ss.Code, "error", ss.Reason, "Fix the problem named in the message, "+restart+".")
	case supervisor.CodeCrashLoop:
		add(ss.Code, "error", ss.Reason, "Read the gateway's errors with `openclawd logs -n 100`; openclawd keeps retrying with backoff.")
	case supervisor.CodeStartupTimeout, supervisor.CodeHung:
		add(ss.Code, "warning", ss.Reason, "Read `openclawd logs -n 100`; openclawd restarts the gateway by itself.")
	}
	if ss.State == supervisor.Running && hs.ConsecutiveFailures > 0 {
		add("gateway_unhealthy", "warning", fmt.Sprintf("%d consecutive failed health checks: %s", hs.ConsecutiveFailures, hs.LastError),
			"openclawd restarts the gateway if the checks keep failing; see `openclawd logs -n 50`.")
	}
	switch hs.Deep.Code {
	case "":
	case "AUTH_TOKEN_MISMATCH", "AUTH_TOKEN_MISSING":
		add("gateway_token_mismatch", "error", "the gateway refused openclawd's token ("+hs.Deep.Code+"): "+hs.Deep.Error,
			"Remove gateway.auth.token from the gateway's openclaw.json (openclawd passes the token in OPENCLAW_GATEWAY_TOKEN), "+restart+".")
	default:
		if ss.State == supervisor.Running {
			add("deep_probe_failed", "warning", "WebSocket probe: "+hs.Deep.Code+": "+hs.Deep.Error, "")
		}
	}
	return ws
}
