package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/openclawd/openclawd/internal/termtext"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/localapi/apitype"
)

func statusCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", stderr)
	sock := socketFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if rc := parse(fs, args); rc >= 0 {
		return rc
	}
	path, err := sock.path(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitUnknown
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := localapi.NewClient(path).Status(ctx)
	rc := ExitOK
	switch {
	case errors.Is(err, localapi.ErrNotRunning):
		st = apitype.Status{State: "not_running", NextSteps: []string{
			"Start it: `sudo systemctl start openclawd` (or `openclawd run --config FILE` in the foreground).",
			"If it keeps stopping: `sudo systemctl status openclawd` and `journalctl -u openclawd -n 50`.",
		}}
		st.Gateway.State = apitype.GatewayStopped
		st.Warnings = []apitype.Warning{{Code: "not_running", Severity: "error", Text: err.Error()}}
		rc = ExitNotRunning
	case err != nil: // may carry the daemon's reply text
		fmt.Fprintf(stderr, "openclawd: %s\n", termtext.Clean(err.Error()))
		return ExitUnknown
	case !st.Healthy:
		rc = ExitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return rc
	}
	printStatus(stdout, st, colorFor(stdout))
	return rc
}

// cleanStatus returns a copy of st with every string made safe for a
// terminal (termtext.Clean): reasons, exit lines, errors, versions, check
// details and paths come from the gateway, the network or the service
// user's files, and escape sequences in them would run in the terminal.
// The JSON output needs none of this: encoding/json escapes control
// characters.
func cleanStatus(st apitype.Status) apitype.Status {
	c := termtext.Clean
	st.State, st.Version, st.Config = c(st.State), c(st.Version), c(st.Config)
	g := &st.Gateway
	g.State, g.Reason, g.Code, g.TokenSource = c(g.State), c(g.Reason), c(g.Code), c(g.TokenSource)
	g.Runtime = cleanAll(g.Runtime)
	if g.LastExit != nil {
		e := *g.LastExit
		e.Signal, e.Reason = c(e.Signal), c(e.Reason)
		g.LastExit = &e
	}
	if g.Memory != nil && g.Memory.LastRestart != nil {
		m, r := *g.Memory, *g.Memory.LastRestart
		r.Reason = c(r.Reason)
		m.LastRestart = &r
		g.Memory = &m
	}
	h := &st.Health
	h.LastError, h.Version = c(h.LastError), c(h.Version)
	h.Deep.Error, h.Deep.Code = c(h.Deep.Error), c(h.Deep.Code)
	if st.TLS != nil {
		t := *st.TLS
		t.Mode, t.RootCert = c(t.Mode), c(t.RootCert)
		t.Names = slices.Clone(t.Names)
		for i := range t.Names {
			n := &t.Names[i]
			n.Name, n.Issuer, n.LastError = c(n.Name), c(n.Issuer), c(n.LastError)
			if n.Check != nil {
				ck := *n.Check
				ck.Code, ck.Detail, ck.Address = c(ck.Code), c(ck.Detail), c(ck.Address)
				n.Check = &ck
			}
		}
		st.TLS = &t
	}
	if st.Backup != nil {
		b := *st.Backup
		b.Every = c(b.Every)
		b.Local = cleanAttempt(b.Local)
		if b.Targets != nil {
			t := map[string]*apitype.BackupAttempt{}
			for k, v := range b.Targets {
				t[c(k)] = cleanAttempt(v)
			}
			b.Targets = t
		}
		st.Backup = &b
	}
	st.Upgrade = cleanUpgrade(st.Upgrade)
	st.Alerts = cleanAlerts(st.Alerts)
	if st.Spend != nil {
		sp := *st.Spend
		sp.Error, sp.Day, sp.Timezone = c(sp.Error), c(sp.Day), c(sp.Timezone)
		if sp.Paused != nil {
			pp := *sp.Paused
			pp.Reason, pp.Mode = c(pp.Reason), c(pp.Mode)
			sp.Paused = &pp
		}
		st.Spend = &sp
	}
	st.Warnings = slices.Clone(st.Warnings)
	for i := range st.Warnings {
		w := &st.Warnings[i]
		w.Code, w.Severity, w.Text, w.Fix = c(w.Code), c(w.Severity), c(w.Text), c(w.Fix)
	}
	st.NextSteps = cleanAll(st.NextSteps)
	return st
}

func cleanUpgrade(u *apitype.Upgrade) *apitype.Upgrade {
	if u == nil {
		return nil
	}
	c := termtext.Clean
	rt := func(r *apitype.Runtime) *apitype.Runtime {
		if r == nil {
			return nil
		}
		return &apitype.Runtime{Node: c(r.Node), Openclaw: c(r.Openclaw)}
	}
	run := func(r *apitype.UpgradeRun) *apitype.UpgradeRun {
		if r == nil {
			return nil
		}
		x := *r
		x.ID, x.Kind, x.Phase, x.Result, x.Reason = c(x.ID), c(x.Kind), c(x.Phase), c(x.Result), c(x.Reason)
		x.From, x.To = *rt(&x.From), *rt(&x.To)
		x.Steps = slices.Clone(x.Steps)
		for i := range x.Steps {
			x.Steps[i].Phase, x.Steps[i].Note = c(x.Steps[i].Phase), c(x.Steps[i].Note)
		}
		return &x
	}
	x := *u
	x.Running, x.Last, x.Previous, x.Pinned, x.PinnedWhy = run(x.Running), run(x.Last), rt(x.Previous), rt(x.Pinned), c(x.PinnedWhy)
	x.Blocked = slices.Clone(x.Blocked)
	for i := range x.Blocked {
		b := &x.Blocked[i]
		b.Runtime, b.Reason = *rt(&b.Runtime), c(b.Reason)
	}
	return &x
}

func cleanAttempt(a *apitype.BackupAttempt) *apitype.BackupAttempt {
	if a == nil {
		return nil
	}
	x := *a
	x.Name, x.Error, x.LastName = termtext.Clean(x.Name), termtext.Clean(x.Error), termtext.Clean(x.LastName)
	return &x
}

// backupLine is the last good backup (or copy), its size and age, and the
// last failure if it came after.
func backupLine(a *apitype.BackupAttempt, every string) string {
	if a == nil {
		if every == "" {
			return "none yet; scheduled backups are off (backup.every)"
		}
		return "none yet; every " + every
	}
	line := "never succeeded"
	if !a.LastGood.IsZero() {
		line = fmt.Sprintf("%s ago, %s (%s)", time.Since(a.LastGood).Round(time.Minute), a.LastName, mb(a.LastSize))
		if a.Error == "" && a.Verified {
			line += ", verified"
		}
	}
	if a.Error != "" {
		line += fmt.Sprintf("; FAILED %s ago: %s", time.Since(a.At).Round(time.Minute), a.Error)
	}
	if every != "" {
		line += "; every " + every
	}
	return line
}

func mb(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

func cleanAll(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = termtext.Clean(s)
	}
	return out
}

type palette struct{ ok, bad, warn, dim, reset string }

func colorFor(w io.Writer) palette {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return palette{}
	}
	return palette{ok: "\x1b[32m", bad: "\x1b[31m", warn: "\x1b[33m", dim: "\x1b[2m", reset: "\x1b[0m"}
}

// printStatus writes the human form of st; every string in it is cleaned
// for the terminal first (cleanStatus).
func printStatus(w io.Writer, st apitype.Status, p palette) {
	st = cleanStatus(st)
	g, h := st.Gateway, st.Health
	switch {
	case st.State == "not_running":
		fmt.Fprintf(w, "%s✗ openclawd is not running%s\n", p.bad, p.reset)
	case st.Healthy:
		fmt.Fprintf(w, "%s● openclawd is running; the gateway is healthy%s\n", p.ok, p.reset)
	default:
		col := p.bad
		if g.State == apitype.GatewayStarting || st.State == apitype.DaemonStarting {
			col = p.warn
		}
		fmt.Fprintf(w, "%s✗ openclawd is %s; the gateway is %s%s\n", col, st.State, g.State, p.reset)
	}
	if st.State != "not_running" {
		fmt.Fprintf(w, "  openclawd  %s, pid %d, up %s\n", st.Version, st.PID, dur(st.UptimeS))
		line := fmt.Sprintf("  gateway    %s", g.State)
		if g.PID > 0 {
			line += fmt.Sprintf(", pid %d, up %s", g.PID, dur(g.UptimeS))
		}
		line += fmt.Sprintf(", port %d (loopback), %d restarts", g.Port, g.Restarts)
		if g.TreeRSS > 0 {
			line += fmt.Sprintf(", %d MB RSS", g.TreeRSS>>20)
		}
		fmt.Fprintln(w, line)
		if m := g.Memory; m != nil && (g.TreeRSS > 0 || m.LastRestart != nil) {
			fmt.Fprintf(w, "  memory     %s\n", memoryLine(g.TreeRSS, m))
		}
		if g.Reason != "" && !st.Healthy {
			fmt.Fprintf(w, "  why        %s\n", g.Reason)
		}
		if g.NextStartAt != nil {
			fmt.Fprintf(w, "  next try   in %s\n", time.Until(*g.NextStartAt).Round(time.Second))
		}
		fmt.Fprintf(w, "  health     %s\n", healthLine(h))
		if t := st.TLS; t != nil {
			fmt.Fprintf(w, "  https      %s\n", tlsLine(t))
			if t.RootCert != "" {
				fmt.Fprintf(w, "  root cert  %s (trust it on your devices)\n", t.RootCert)
			}
			for _, n := range t.Names {
				if c := n.Check; c != nil {
					fmt.Fprintf(w, "  remote     wss://%s: %s (checked %s ago via %s)\n", n.Name, c.Code, time.Since(c.At).Round(time.Second), c.Address)
				}
			}
		}
		if b := st.Backup; b != nil {
			fmt.Fprintf(w, "  backup     %s\n", backupLine(b.Local, b.Every))
			for _, name := range slices.Sorted(maps.Keys(b.Targets)) {
				fmt.Fprintf(w, "  copy       %s: %s\n", name, backupLine(b.Targets[name], ""))
			}
		}
		printUpgrade(w, st.Upgrade)
		printSpend(w, st.Spend)
		printAlerts(w, st.Alerts, p)
		if le := g.LastExit; le != nil {
			fmt.Fprintf(w, "  %slast exit  %s ago: %s%s\n", p.dim, time.Since(le.At).Round(time.Second), le.Reason, p.reset)
		}
	}
	for _, x := range st.Warnings {
		col := p.warn
		if x.Severity == "error" {
			col = p.bad
		}
		fmt.Fprintf(w, "%s%s [%s]%s %s\n", col, x.Severity, x.Code, p.reset, x.Text)
	}
	if len(st.NextSteps) > 0 {
		fmt.Fprintln(w, "What to do:")
		for _, s := range st.NextSteps {
			fmt.Fprintf(w, "  → %s\n", s)
		}
	}
}

// cleanAlerts cleans every string that came from elsewhere: alert texts
// carry the gateway's messages, errors carry a service's answer.
func cleanAlerts(a *apitype.Alerts) *apitype.Alerts {
	if a == nil {
		return nil
	}
	c := termtext.Clean
	out := &apitype.Alerts{Open: slices.Clone(a.Open), Channels: slices.Clone(a.Channels)}
	for i := range out.Open {
		o := &out.Open[i]
		o.Key, o.Severity, o.Text, o.Fix = c(o.Key), c(o.Severity), c(o.Text), c(o.Fix)
	}
	ch := func(x *apitype.AlertChannel) {
		x.Name, x.Service, x.LastError = c(x.Name), c(x.Service), c(x.LastError)
	}
	for i := range out.Channels {
		ch(&out.Channels[i])
	}
	if a.Heartbeat != nil {
		hb := *a.Heartbeat
		ch(&hb)
		out.Heartbeat = &hb
	}
	return out
}

// printSpend shows today's and this month's estimated model spend.
func printSpend(w io.Writer, s *apitype.Spend) {
	if s == nil {
		return
	}
	if s.UpdatedAt.IsZero() {
		fmt.Fprintf(w, "  spend      not read yet: %s\n", s.Error)
		return
	}
	line := fmt.Sprintf("  spend      today $%.2f (%s tokens), this month $%.2f (%s tokens), estimated", s.Today.CostUSD, thousands(s.Today.Tokens), s.Month.CostUSD, thousands(s.Month.Tokens))
	if s.DailyCap > 0 {
		line += fmt.Sprintf("; daily cap $%.2f", s.DailyCap)
	}
	if n := s.Month.Unpriced; n > 0 {
		line += fmt.Sprintf("; %d turns this month have no price and are not counted", n)
	}
	fmt.Fprintln(w, line)
	if p := s.Paused; p != nil {
		fmt.Fprintf(w, "  paused     model calls until %s (%s): %s\n", p.Until.Local().Format("2006-01-02 15:04 MST"), p.Mode, p.Reason)
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// printAlerts lists the open alerts and how each channel delivers.
func printAlerts(w io.Writer, a *apitype.Alerts, p palette) {
	if a == nil {
		return
	}
	for _, o := range a.Open {
		col := p.warn
		if o.Severity == "error" {
			col = p.bad
		}
		fmt.Fprintf(w, "  %salert%s      %s (%s, since %s ago): %s\n", col, p.reset, o.Key, o.Severity, time.Since(o.Since).Round(time.Second), o.Text)
	}
	line := func(label string, c apitype.AlertChannel) {
		state := "ok"
		switch {
		case c.LastError != "":
			state = fmt.Sprintf("%sfailing%s since %s ago: %s", p.bad, p.reset, time.Since(c.FailingSince).Round(time.Second), c.LastError)
		case c.LastOK.IsZero():
			state = "nothing sent yet"
		default:
			state = fmt.Sprintf("ok, last %s ago", time.Since(c.LastOK).Round(time.Second))
		}
		if c.Pending > 0 {
			state += fmt.Sprintf(", %d waiting", c.Pending)
		}
		fmt.Fprintf(w, "  %-10s %s (%s): %s\n", label, c.Name, c.Service, state)
	}
	for _, c := range a.Channels {
		line("notify", c)
	}
	if a.Heartbeat != nil {
		line("heartbeat", *a.Heartbeat)
	}
}

// printUpgrade shows a transaction in progress, or how the last ended,
// what `rollback` returns to, and blocked versions (cleanStatus cleaned
// every string).
func printUpgrade(w io.Writer, u *apitype.Upgrade) {
	if u == nil {
		return
	}
	rt := func(r apitype.Runtime) string { return fmt.Sprintf("openclaw %s on Node %s", r.Openclaw, r.Node) }
	switch r := u.Running; {
	case r != nil:
		fmt.Fprintf(w, "  upgrade    %s to %s: %s step (started %s ago)\n", r.Kind, rt(r.To), r.Phase, time.Since(r.Started).Round(time.Second))
	case u.Last != nil:
		r := u.Last
		fmt.Fprintf(w, "  upgrade    last %s, to %s: %s, %s ago\n", r.Kind, rt(r.To), r.Result, time.Since(r.Finished).Round(time.Second))
	}
	if u.Previous != nil {
		fmt.Fprintf(w, "  rollback   to %s (`openclawd rollback`)\n", rt(*u.Previous))
	}
	for _, b := range u.Blocked {
		fmt.Fprintf(w, "  blocked    %s: %s\n", rt(b.Runtime), b.Reason)
	}
}

func tlsLine(t *apitype.TLS) string {
	var parts []string
	for _, n := range t.Names {
		switch {
		case n.LastError != "":
			parts = append(parts, fmt.Sprintf("%s: certificate error: %s", n.Name, n.LastError))
		case n.NotAfter == nil:
			parts = append(parts, n.Name+": no certificate yet")
		default:
			parts = append(parts, fmt.Sprintf("%s: %s, %d days left", n.Name, n.Issuer, n.DaysLeft))
		}
	}
	if len(parts) == 0 {
		return t.Mode
	}
	return t.Mode + "; " + strings.Join(parts, "; ")
}

func healthLine(h apitype.Health) string {
	var parts []string
	switch {
	case h.Live && h.Started:
		parts = append(parts, "live, started")
	case h.Live:
		parts = append(parts, "live, still starting")
	default:
		parts = append(parts, "not live")
	}
	if h.Version != "" {
		parts = append(parts, "version "+h.Version)
	}
	if h.LastError != "" && !h.Live {
		parts = append(parts, "last error: "+h.LastError)
	}
	switch {
	case !h.Deep.Enabled:
	case h.Deep.HelloOK && h.Deep.LastTick != nil:
		parts = append(parts, fmt.Sprintf("websocket ok (last tick %s ago)", time.Since(*h.Deep.LastTick).Round(time.Second)))
	case h.Deep.HelloOK:
		parts = append(parts, "websocket ok")
	case h.Deep.Code != "":
		parts = append(parts, "websocket refused: "+h.Deep.Code)
	}
	return strings.Join(parts, "; ")
}

func dur(s int64) string {
	d := time.Duration(s) * time.Second
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return d.String()
}

// memoryLine is the gateway tree's memory: now, trend, peak, the restart
// bound, and the last restart openclawd made for memory.
func memoryLine(rss int64, m *apitype.Memory) string {
	var parts []string
	if rss > 0 {
		p := fmt.Sprintf("%d MB", rss>>20)
		if m.TrendMBPerHour != nil {
			p += fmt.Sprintf(" (%+.0f MB/h)", *m.TrendMBPerHour)
		}
		parts = append(parts, p, fmt.Sprintf("peak %d MB", m.PeakBytes>>20))
	}
	if m.RestartAbove > 0 && m.ServiceLimit > 0 && m.RestartAbove >= m.ServiceLimit {
		// RSS cannot pass the unit's MemoryMax: swap, then the OOM killer.
		parts = append(parts, fmt.Sprintf("bounded by the service's %d MB (memory.restart_above %d MB is above it)", m.ServiceLimit>>20, m.RestartAbove>>20))
	} else if m.RestartAbove > 0 {
		parts = append(parts, fmt.Sprintf("restarts above %d MB", m.RestartAbove>>20))
	} else {
		parts = append(parts, "no restart bound (memory.restart_above: off)")
	}
	if m.ServiceLimit > 0 && m.RestartAbove < m.ServiceLimit {
		parts = append(parts, fmt.Sprintf("of %d MB the service may use", m.ServiceLimit>>20))
	}
	line := strings.Join(parts, ", ")
	if r := m.LastRestart; r != nil {
		line += fmt.Sprintf("; restarted for memory %s ago", dur(int64(time.Since(r.At).Seconds())))
	}
	return line
}
