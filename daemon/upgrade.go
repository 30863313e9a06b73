package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/internal/semver"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/provision"
	"github.com/openclawd/openclawd/supervisor"
	"github.com/openclawd/openclawd/upgrade"
)

// Upgrade implements localapi.Backend: it resolves the plan in a child
// (npm asks the registry) and, unless req.Check, runs the transaction in
// the background; status follows its steps.
func (d *Daemon) Upgrade(ctx context.Context, req apitype.UpgradeRequest) (apitype.UpgradePlan, error) {
	if d.restoring.Load() {
		return apitype.UpgradePlan{}, errors.New("a restore is running: wait for it to finish")
	}
	// One that has just recorded its outcome may still be tidying up.
	for i := 0; i < 100 && d.upgrading.Load(); i++ {
		if st, err := UpgradeStore(d.config()).Load(); err != nil || st.Journal != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.upgrading.Load() {
		return apitype.UpgradePlan{}, upgrade.ErrInProgress
	}
	cfg := d.config()
	if len(cfg.Gateway.Command) > 0 {
		return apitype.UpgradePlan{}, fmt.Errorf("gateway.command is set in %s: openclawd runs that command, not a runtime it installs, so there is nothing to upgrade", cfg.Path)
	}
	args := []string{"upgrade-step", "plan", "--config", cfg.Path, "--id", upgrade.NewID(time.Now())}
	for _, f := range []struct{ name, val string }{{"--openclaw", req.Openclaw}, {"--node", req.Node}} {
		if f.val != "" {
			args = append(args, f.name, f.val)
		}
	}
	if req.Rollback {
		args = append(args, "--rollback")
	}
	if req.Force {
		args = append(args, "--force")
	}
	out, err := d.runChild(ctx, 0, args...)
	if err != nil {
		return apitype.UpgradePlan{}, err
	}
	var res PlanResult
	if err := json.Unmarshal(out, &res); err != nil {
		return apitype.UpgradePlan{}, fmt.Errorf("reading the plan: %w", err)
	}
	ap := apitype.UpgradePlan{ID: res.Plan.ID, Kind: res.Plan.Kind, From: apiRuntime(res.Plan.From), To: apiRuntime(res.Plan.To),
		UpToDate: res.UpToDate, Notes: res.Notes, NeedBytes: res.NeedBytes, FreeBytes: res.FreeBytes}
	if req.Check || res.UpToDate {
		d.dropPlanDir(res.Plan)
		return ap, nil
	}
	if !d.upgrading.CompareAndSwap(false, true) {
		d.dropPlanDir(res.Plan)
		return ap, upgrade.ErrInProgress
	}
	// A restore may have begun while the plan was resolved, and the plan
	// is only good for the runtime it was made from.
	if cur, ok := CurrentRuntime(cfg); d.restoring.Load() || !ok || !cur.Same(res.Plan.From) {
		d.upgrading.Store(false)
		d.dropPlanDir(res.Plan)
		return ap, errors.New("the runtime or the state changed while the plan was made (a restore, or another upgrade): nothing was changed; run the command again")
	}
	go func() {
		defer d.upgrading.Store(false)
		_, _ = d.transact(d.runCtx, func(ctx context.Context, e *upgrade.Engine) (upgrade.Outcome, error) { return e.Run(ctx, res.Plan) })
	}()
	ap.Started = true
	return ap, nil
}

// transact runs one transaction and removes its plan directory after.
// Scheduled backups wait while it runs (upgrading); the snapshot is made
// under the backups lock, and so is each state swap.
func (d *Daemon) transact(ctx context.Context, run func(context.Context, *upgrade.Engine) (upgrade.Outcome, error)) (upgrade.Outcome, error) {
	o, err := run(ctx, d.engine())
	if err != nil {
		d.log.Error("upgrade transaction stopped", "err", err)
	}
	d.dropPlanDirs()
	return o, err
}

func (d *Daemon) engine() *upgrade.Engine {
	cfg := d.config()
	return &upgrade.Engine{Store: UpgradeStore(cfg), Host: upgradeHost{d}, Log: d.log.With("component", "upgrade"),
		Stable: cfg.Upgrade.StableWindow}
}

// dropPlanDir removes a plan's resolved lockfile, unused.
func (d *Daemon) dropPlanDir(p upgrade.Plan) {
	if dir := filepath.Join(d.config().Layout().Upgrade(), "plan-"+p.ID); p.ID != "" && filepath.Base(dir) == "plan-"+p.ID {
		_ = os.RemoveAll(dir)
	}
}

// dropPlanDirs removes every plan directory no transaction in progress uses.
func (d *Daemon) dropPlanDirs() {
	dir := d.config().Layout().Upgrade()
	st, _ := UpgradeStore(d.config()).Load()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "plan-") && (st.Journal == nil || st.Journal.Install.LockDir != filepath.Join(dir, e.Name())) {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// runChild runs openclawd itself with args, out of the gateway's tree
// (the reaper and the orphan killer leave it alone), in its own process
// group killed with it. It returns stdout; the error carries stderr's
// last line, the child's own message.
func (d *Daemon) runChild(ctx context.Context, nice int, args ...string) ([]byte, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding openclawd's binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(cmd.SysProcAttr)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout bytes.Buffer
	var stderr tailBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done, err := d.sup.StartExempt(cmd)
	if err != nil {
		return nil, err
	}
	if nice != 0 {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, nice)
	}
	err = cmd.Wait()
	done()
	if err != nil {
		msg := d.secrets.Redact(stderr.String())
		if i := strings.LastIndex(msg, "\nopenclawd: "); i >= 0 {
			msg = msg[i+len("\nopenclawd: "):]
		} else {
			msg = strings.TrimPrefix(msg, "openclawd: ")
		}
		if msg == "" {
			msg = err.Error()
		}
		return stdout.Bytes(), errors.New(msg)
	}
	return stdout.Bytes(), nil
}

// upgradeHost is the daemon taking a transaction's steps.
type upgradeHost struct{ d *Daemon }

func (h upgradeHost) Snapshot(ctx context.Context, dst string) error {
	d := h.d
	cfg := d.config()
	start := time.Now().Add(-time.Second)
	if _, err := d.runChild(ctx, 10, "backup", "--local", "--config", cfg.Path); err != nil {
		return err
	}
	rec, err := backup.ReadRecord(cfg.Layout())
	if err != nil {
		return err
	}
	if rec.Local == nil || rec.Local.Name == "" || rec.Local.At.Before(start) {
		return errors.New("the backup finished but recorded no new archive")
	}
	// A second name for the archive: retention may prune backups/, and
	// this one is what a rollback returns to.
	if err := os.Link(filepath.Join(cfg.Layout().Backups(), rec.Local.Name), dst); err != nil {
		return fmt.Errorf("keeping the snapshot: %w", err)
	}
	return nil
}

func (h upgradeHost) Install(ctx context.Context, p upgrade.Plan) error {
	_, err := h.d.runChild(ctx, 10, "upgrade-step", "install", "--config", h.d.config().Path)
	return err
}

func (h upgradeHost) Preflight(ctx context.Context, rt upgrade.Runtime, archive string) error {
	out, err := h.d.runChild(ctx, 0, "upgrade-step", "preflight", "--config", h.d.config().Path)
	if err != nil {
		return err
	}
	h.d.log.Info("preflight passed", "target", rt.String(), "verdict", strings.TrimSpace(string(out)))
	return nil
}

func (h upgradeHost) Stop(ctx context.Context, why string) error {
	cfg := h.d.config()
	ctx, cancel := context.WithTimeout(ctx, cfg.Gateway.StopTimeout+30*time.Second)
	defer cancel()
	if !h.d.supStarted.Load() {
		return nil // a restart's recovery, before the gateway first starts
	}
	return h.d.sup.Pause(ctx, why)
}

func (h upgradeHost) Point(rt upgrade.Runtime) error {
	return provision.Point(h.d.config().Layout().Runtime(), rt.Dirs)
}

// RestoreState swaps the archive's state in as a restore does, under the
// backups lock, and commits it at once: the transaction's own gate and
// journal decide what happens next.
func (h upgradeHost) RestoreState(ctx context.Context, archive string) error {
	d := h.d
	l := d.config().Layout()
	unlock, err := backup.Lock(ctx, l, 10*time.Minute)
	if err != nil {
		return err
	}
	defer unlock()
	// A swap this transaction began before a restart: undone, or kept, and
	// then replaced all the same.
	if j, err := backup.Pending(l); err != nil {
		return err
	} else if j != nil && j.Phase == backup.PhaseSwapping {
		if err := backup.Undo(l, j); err != nil {
			return err
		}
	} else if j != nil {
		if err := backup.Commit(l, j); err != nil {
			return err
		}
	}
	s, err := backup.Stage(archive, l, backup.VerifyOptions{})
	if err != nil {
		return err
	}
	j, err := backup.Activate(l, s, archive)
	if err != nil {
		if j != nil {
			err = errors.Join(err, backup.Undo(l, j))
		}
		_ = os.RemoveAll(s.Dir)
		return err
	}
	// A restore journal left behind would be gated or undone by the next
	// start's restore recovery, under whatever runtime is current then.
	if err := backup.Commit(l, j); err != nil {
		return fmt.Errorf("finishing the state swap: %w", err)
	}
	d.afterSwap()
	return nil
}

func (h upgradeHost) Start() { h.d.sup.Resume() }

func (h upgradeHost) Gate(ctx context.Context, since time.Time, window time.Duration) error {
	return h.d.healthGate(ctx, since, window)
}

func (h upgradeHost) Prune(keep ...upgrade.Runtime) {
	var names []string
	for _, k := range keep {
		names = append(names, k.Dirs.Node, k.Dirs.Openclaw)
	}
	removed, err := provision.Prune(context.Background(), h.d.config().Layout().Runtime(), names...)
	for _, e := range removed {
		h.d.log.Info("old runtime removed", "dir", e.Name, "mb", e.Bytes>>20)
	}
	if err != nil {
		h.d.log.Warn("pruning old runtimes", "err", err)
	}
}

// healthGate waits for the gateway to start (/startupz started, and the
// WebSocket hello-ok when deep probes are on) and then to stay up, with
// no crash and its crash-loop breaker untripped since the gate began, for
// window. A clean restart of its own (exit 0) within the window passes if
// it is healthy again at the end; a crash does not.
func (d *Daemon) healthGate(ctx context.Context, since time.Time, window time.Duration) error {
	cfg := d.config()
	start := time.Now()
	limit := cfg.Health.StartupTimeout + 30*time.Second
	var healthyAt time.Time
	crashes := 0 // when it first became healthy: a crash before is the start's
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		ss, hs := d.sup.Status(), d.health.Snapshot()
		up := ss.State == supervisor.Running && ss.PID != 0 && hs.Live && (!cfg.Health.DeepProbe() || hs.Deep.HelloOK)
		switch {
		case ss.State == supervisor.Failed || ss.State == supervisor.Backoff && ss.Crashes >= 2:
			return errors.New(exitWhy(ss))
		case !healthyAt.IsZero() && ss.Crashes > crashes:
			return fmt.Errorf("it crashed %s after becoming healthy, within the %s stable window: %s", time.Since(healthyAt).Round(time.Second), window, exitWhy(ss))
		case up && healthyAt.IsZero():
			healthyAt, crashes = time.Now(), ss.Crashes
			if window > 0 {
				d.log.Info("health gate: the gateway is healthy; holding the stable window", "window", window)
			}
		case up && time.Since(healthyAt) >= window:
			return breakerTripped(d.config().Layout().Gateway(), since)
		case !up && time.Since(start) > limit+window:
			return fmt.Errorf("not healthy within %s (%s)", limit+window, ss.State)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func exitWhy(ss supervisor.Status) string {
	if ss.LastExit != nil && ss.LastExit.Reason != "" {
		return ss.LastExit.Reason
	}
	return ss.Reason
}

// breakerTripped reports the gateway's crash-loop breaker, written since
// start: a gateway in that safe mode answers probes with its channels off.
func breakerTripped(gatewayState string, start time.Time) error {
	files, _ := filepath.Glob(filepath.Join(gatewayState, "logs", "stability", "*crash_loop_breaker*.json"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.ModTime().After(start) {
			return fmt.Errorf("its crash-loop breaker tripped (%s): it runs in safe mode, with channels off", f)
		}
	}
	return nil
}

// recoverUpgrade finishes or undoes, before the gateway starts, what an
// interrupted transaction left; it returns the rest, to run once it has.
func (d *Daemon) recoverUpgrade(ctx context.Context) func() {
	e := d.engine()
	resume, err := e.Recover(ctx)
	if err != nil {
		// upgrading stays set: no restore or upgrade may swap anything
		// under the journal the next start will try again.
		d.upgrading.Store(true)
		err = fmt.Errorf("an interrupted upgrade could not be undone: %w", err)
		d.sup.Hold(err.Error() + "; the gateway stays stopped rather than run one version on another's state: fix the cause, then restart openclawd, which tries again")
		d.log.Error("upgrade recovery failed", "err", err)
		return nil
	}
	if resume == nil {
		return nil
	}
	d.upgrading.Store(true)
	return func() {
		defer d.upgrading.Store(false)
		_, _ = d.transact(ctx, func(ctx context.Context, _ *upgrade.Engine) (upgrade.Outcome, error) { return resume(ctx) })
	}
}

// upgradeToPins runs, once the gateway has settled after a start, the
// transaction to the runtime this openclawd (or its config) pins when
// that is not what runs: a new openclawd with new pins, as a .deb or
// Homebrew upgrade brings, never switches silently. A wanted runtime the
// last start already acted on (done, refused or rolled back), a blocked
// one, or one older than what runs, is left as it is, and status says so.
func (d *Daemon) upgradeToPins(ctx context.Context) {
	cfg := d.config()
	if len(cfg.Gateway.Command) > 0 {
		return
	}
	cur, ok := CurrentRuntime(cfg)
	want, in, key, err := wantedRuntime(cfg)
	if !ok || err != nil {
		return
	}
	store := UpgradeStore(cfg)
	st, err := store.Load()
	if err != nil || st.Journal != nil || d.upgrading.Load() {
		return
	}
	if cur.Same(want) || st.Seen == key {
		if st.Seen != key {
			st.Seen = key
			_ = store.Save(st)
		}
		return
	}
	if b := st.BlockOf(want); b != nil {
		d.log.Error("this openclawd pins a runtime that failed its health gate here; the gateway stays on the current one", "pinned", want.String(), "current", cur.String(), "reason", b.Reason)
		return
	}
	if c, err := semver.Compare(want.Openclaw, cur.Openclaw); err == nil && c < 0 {
		d.log.Warn("the running openclaw is newer than this openclawd's pin; it is kept", "pinned", want.String(), "current", cur.String())
		st.Seen = key
		_ = store.Save(st)
		return
	}
	// Let the start settle first: the snapshot is the gateway's own backup.
	deadline := time.Now().Add(cfg.Health.StartupTimeout + 30*time.Second)
	for time.Now().Before(deadline) && !d.gatewayHealthy() && d.sup.Status().State != supervisor.Failed {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	if d.restoring.Load() || d.sup.Status().State == supervisor.Paused || !d.upgrading.CompareAndSwap(false, true) {
		return // a restore, or a hold the transaction's start must not lift
	}
	defer d.upgrading.Store(false)
	d.log.Info("this openclawd pins another runtime than the one running: upgrading, with a health gate", "from", cur.String(), "to", want.String())
	p := upgrade.Plan{ID: upgrade.NewID(time.Now()), Kind: upgrade.KindPins, From: cur, To: want, Install: in, Wanted: key}
	_, _ = d.transact(ctx, func(ctx context.Context, e *upgrade.Engine) (upgrade.Outcome, error) { return e.Run(ctx, p) })
}

func apiRuntime(r upgrade.Runtime) apitype.Runtime {
	return apitype.Runtime{Node: r.Node, Openclaw: r.Openclaw}
}

func apiRun(j *upgrade.Journal, o *upgrade.Outcome) *apitype.UpgradeRun {
	var r apitype.UpgradeRun
	var steps []upgrade.Step
	switch {
	case j != nil:
		r = apitype.UpgradeRun{ID: j.ID, Kind: j.Kind, From: apiRuntime(j.From), To: apiRuntime(j.To), Phase: j.Phase, Reason: j.Reason, Started: j.Started}
		steps = j.Steps
	case o != nil:
		r = apitype.UpgradeRun{ID: o.ID, Kind: o.Kind, From: apiRuntime(o.From), To: apiRuntime(o.To), Result: o.Result, Reason: o.Reason, Started: o.Started, Finished: o.Finished}
		steps = o.Steps
	default:
		return nil
	}
	for _, s := range steps {
		r.Steps = append(r.Steps, apitype.UpgradeStep{Phase: s.Phase, At: s.At, Note: s.Note})
	}
	return &r
}

// upgradeStatus is the transactions' part of status, with its warnings:
// a rollback in the last week, and a pinned runtime that does not run.
func (d *Daemon) upgradeStatus(now time.Time) (*apitype.Upgrade, []apitype.Warning) {
	cfg := d.config()
	if len(cfg.Gateway.Command) > 0 {
		return nil, nil
	}
	st, err := UpgradeStore(cfg).Load()
	if err != nil {
		return nil, []apitype.Warning{{Code: "upgrade_state", Severity: "warning", Text: err.Error(), Fix: "Move the file away; `sudo openclawd runtime list` shows what is installed."}}
	}
	u := &apitype.Upgrade{Running: apiRun(st.Journal, nil), Last: apiRun(nil, st.Last)}
	if st.Previous != nil {
		p := apiRuntime(st.Previous.Runtime)
		u.Previous = &p
	}
	for _, b := range st.Blocked {
		u.Blocked = append(u.Blocked, apitype.UpgradeBlock{Runtime: apiRuntime(b.Runtime), Reason: b.Reason, At: b.At})
	}
	var ws []apitype.Warning
	if o := st.Last; o != nil && st.Journal == nil && (o.Result == upgrade.ResultRolledBack || o.Result == upgrade.ResultFailed) && now.Sub(o.Finished) < 7*24*time.Hour {
		ws = append(ws, apitype.Warning{Code: "upgrade_rolled_back", Severity: "warning",
			Text: fmt.Sprintf("the %s to %s at %s was rolled back: %s", o.Kind, o.To, o.Finished.Local().Format(time.DateTime), o.Reason),
			Fix:  blockedFix(st, o.To)})
	}
	cur, ok := CurrentRuntime(cfg)
	want, _, _, err := wantedRuntime(cfg)
	if ok && err == nil && !cur.Same(want) && st.Journal == nil && !d.upgrading.Load() {
		w := apiRuntime(want)
		u.Pinned = &w
		switch b := st.BlockOf(want); {
		case b != nil:
			u.PinnedWhy = "it failed its health gate here: " + b.Reason
		case st.Last != nil && st.Last.To.Same(want) && st.Last.Result != upgrade.ResultDone:
			u.PinnedWhy = "the last try " + st.Last.Result + ": " + st.Last.Reason
		default:
			u.PinnedWhy = "openclaw " + cur.Openclaw + " on Node " + cur.Node + " was chosen with `openclawd upgrade` or `rollback`"
		}
		ws = append(ws, apitype.Warning{Code: "runtime_not_pinned", Severity: "info",
			Text: fmt.Sprintf("this openclawd pins %s, but %s runs: %s", want, cur, u.PinnedWhy),
			Fix:  "Run `sudo openclawd upgrade` to move to the pinned runtime (with a health gate and rollback), or keep it as it is."})
	}
	return u, ws
}

func blockedFix(st upgrade.State, to upgrade.Runtime) string {
	if st.BlockOf(to) != nil {
		return "Read `openclawd logs` around that time; the failed version is blocked until `sudo openclawd upgrade --force`."
	}
	return "Read `openclawd logs` around that time, then run the upgrade again."
}
