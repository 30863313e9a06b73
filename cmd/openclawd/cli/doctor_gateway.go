package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/hostcheck"
)

// gatewayCLIPeakMB is the peak RSS of one openclaw CLI start measured on
// 2026.9.6 (docs/gateway-doctor.md: 677 MiB for doctor --lint, 529 MiB for
// security audit); the margin keeps the gateway itself from being squeezed.
const (
	gatewayCLIPeakMB   = 680
	gatewayCLIMarginMB = 256
	gatewayCLITimeout  = 90 * time.Second
)

// gatewayFindings runs `openclaw doctor --lint --json` and `openclaw
// security audit --json` as the service user through the launcher and
// turns their findings into doctor checks. Never `doctor --fix`: it
// restores openclaw.json.last-good and loses edits (§15).
func gatewayFindings(ctx context.Context, cfg *config.Config) []check {
	if len(cfg.Gateway.Command) > 0 {
		return []check{{name: "gateway", result: "gateway.command is set: the openclaw CLI is not openclawd's to run", ok: true, level: levelSkip}}
	}
	if _, err := daemon.InstalledRuntime(cfg); err != nil {
		return []check{{name: "gateway", result: "skipped its own checks: openclaw is not installed yet", ok: true, level: levelSkip}}
	}
	need := gatewayCLIPeakMB + gatewayCLIMarginMB
	if avail, err := hostcheck.MemAvailable(); err == nil && int(avail>>20) < need {
		return []check{{name: "gateway", ok: true, level: levelSkip, result: fmt.Sprintf("skipped its own checks: a CLI start needs about %d MB free, %d MB is", need, avail>>20)}}
	}
	var checks []check
	for _, c := range []struct {
		args  []string
		parse func([]byte) ([]check, error)
	}{
		{[]string{"doctor", "--lint", "--json"}, parseGatewayLint},
		{[]string{"security", "audit", "--json"}, parseGatewayAudit},
	} {
		name := "openclaw " + strings.Join(c.args[:len(c.args)-1], " ")
		out, err := runGatewayCLI(ctx, cfg, c.args)
		found, perr := c.parse(out)
		if perr != nil {
			checks = append(checks, check{name: "gateway", result: fmt.Sprintf("%s: %v", name, errors.Join(err, perr)), fix: "sudo openclawd openclaw " + strings.Join(c.args[:len(c.args)-1], " ")})
			continue
		}
		checks = append(checks, found...)
	}
	return checks
}

// runGatewayCLI runs one CLI command with a deadline; a non-zero exit is
// not an error by itself (doctor --lint exits 1 when it finds anything).
func runGatewayCLI(ctx context.Context, cfg *config.Config, args []string) ([]byte, error) {
	cmd, err := daemon.OpenclawCommand(cfg, args)
	if err != nil {
		return nil, fmt.Errorf("openclaw: %w", err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	// A killed CLI's children may hold its stdout open: Wait gives up
	// on the pipe after this.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("openclaw: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(ctx, gatewayCLITimeout)
	defer cancel()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return nil, fmt.Errorf("openclaw %s: no answer within %s: %w", args[0], gatewayCLITimeout, ctx.Err())
	}
	return out.Bytes(), err
}

// gatewayLevel maps a finding's severity: critical and error fail doctor,
// the rest are notes.
func gatewayLevel(sev string) bool {
	switch sev {
	case "critical", "error":
		return false
	}
	return true
}

// decided explains findings about what openclawd sets on purpose.
var decided = map[string]string{
	"core/doctor/node-hosting-preconditions": "openclawd binds the gateway to loopback on purpose; remote access goes through its HTTPS front (tls in openclawd.yaml) or an SSH tunnel",
}

func gatewayCheck(source, id, sev, msg, fix string) check {
	c := check{name: "gateway", ok: gatewayLevel(sev), result: fmt.Sprintf("%s %s [%s]: %s", source, sev, id, msg), fix: fix}
	if c.ok && (sev == "warn" || sev == "warning") {
		c.level = levelWarn
	}
	if strings.Contains(fix, "doctor --fix") {
		// It may restore openclaw.json.last-good and lose edits (§15).
		c.fix += " (back up first: `sudo openclawd backup`; `openclaw doctor --fix` may restore an older openclaw.json)"
	}
	if why, ok := decided[id]; ok {
		c.ok, c.level, c.fix = true, levelOK, "deliberate: "+why
	}
	return c
}

// parseGatewayLint reads `openclaw doctor --lint --json`:
// {schemaVersion, ok, checksRun, checksSkipped, findings:[{checkId, severity, message, path, fixHint}]}.
func parseGatewayLint(b []byte) ([]check, error) {
	var r struct {
		SchemaVersion int `json:"schemaVersion"`
		Findings      []struct {
			CheckID, Severity, Message, Path, FixHint string
		} `json:"findings"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.SchemaVersion == 0 {
		return nil, fmt.Errorf("doctor --lint printed no report: %w", errors.Join(err, errors.New("no schemaVersion")))
	}
	if len(r.Findings) == 0 {
		return []check{{name: "gateway", ok: true, result: "doctor: no findings"}}, nil
	}
	var cs []check
	for _, f := range r.Findings {
		cs = append(cs, gatewayCheck("doctor", f.CheckID, f.Severity, f.Message, f.FixHint))
	}
	return cs, nil
}

// parseGatewayAudit reads `openclaw security audit --json`:
// {ts, summary:{critical, warn, info}, findings:[{checkId, severity, title, detail, remediation}]}.
// info findings (the attack-surface summary) are left out.
func parseGatewayAudit(b []byte) ([]check, error) {
	var r struct {
		TS       int64 `json:"ts"`
		Findings []struct {
			CheckID, Severity, Title, Detail, Remediation string
		} `json:"findings"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.TS == 0 {
		return nil, fmt.Errorf("security audit printed no report: %w", errors.Join(err, errors.New("no ts")))
	}
	var cs []check
	for _, f := range r.Findings {
		if f.Severity == "info" {
			continue
		}
		cs = append(cs, gatewayCheck("audit", f.CheckID, f.Severity, f.Title, f.Remediation))
	}
	if len(cs) == 0 {
		cs = append(cs, check{name: "gateway", ok: true, result: "audit: no warnings or critical findings"})
	}
	return cs, nil
}
