package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/internal/semver"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/pins"
	"github.com/openclawd/openclawd/runtime/provision"
	"github.com/openclawd/openclawd/upgrade"
)

// The steps here run in a child of the daemon (`openclawd upgrade-step`),
// as the service user: npm and the target's CLI stay out of the gateway's
// process tree, and a step that hangs is killed with its process group.

// UpgradeStore is the transaction state of cfg's state dir.
func UpgradeStore(cfg *config.Config) upgrade.Store {
	return upgrade.Store{Dir: cfg.Layout().Upgrade()}
}

// runtimeOf names the versions of the runtime in dirs (node-<v>-<os>-<arch>,
// openclaw-<v>).
func runtimeOf(cur provision.Current) upgrade.Runtime {
	nv := strings.TrimPrefix(cur.Node, "node-")
	if i := strings.IndexByte(nv, '-'); i >= 0 {
		nv = nv[:i]
	}
	return upgrade.Runtime{Node: nv, Openclaw: strings.TrimPrefix(cur.Openclaw, "openclaw-"), Dirs: cur}
}

// CurrentRuntime is the runtime current.json names, if it is complete.
func CurrentRuntime(cfg *config.Config) (upgrade.Runtime, bool) {
	root := cfg.Layout().Runtime()
	cur, err := provision.ReadCurrent(root)
	if err != nil || !provision.Complete(root, cur) {
		return upgrade.Runtime{}, false
	}
	return runtimeOf(cur), true
}

// wantedRuntime is the runtime this openclawd and its config ask for, with
// how to install it and its key (what a start remembers having acted on).
func wantedRuntime(cfg *config.Config) (upgrade.Runtime, upgrade.Install, string, error) {
	o := RuntimeOptions(cfg, nil)
	nd, err := o.Node.Dir()
	if err != nil {
		return upgrade.Runtime{}, upgrade.Install{}, "", err
	}
	p, _ := node.Platform()
	rt := upgrade.Runtime{Node: o.Node.Version, Openclaw: o.Openclaw.Version,
		Dirs: provision.Current{Node: filepath.Base(nd), Openclaw: filepath.Base(o.Openclaw.Dir())}}
	in := upgrade.Install{NodeSHA256: o.Node.SHA256[p], Integrity: o.Openclaw.Integrity}
	return rt, in, fmt.Sprintf("node %s %s openclaw %s %s", rt.Node, in.NodeSHA256, rt.Openclaw, in.Integrity), nil
}

// PlanResult is a resolved plan and what the owner should know of it.
type PlanResult struct {
	Plan      upgrade.Plan `json:"plan"`
	UpToDate  bool         `json:"up_to_date,omitempty"`
	Notes     []string     `json:"notes,omitempty"`
	NeedBytes int64        `json:"need_bytes"`
	FreeBytes int64        `json:"free_bytes"`
}

// ResolvePlan decides a transaction from a request, changing nothing but
// a plan directory (a resolved lockfile) under upgrade/. Everything that
// can be refused is refused here: an unpublished version, a Node the
// target's engines exclude, a blocked target, too little disk.
func ResolvePlan(ctx context.Context, cfg *config.Config, req apitype.UpgradeRequest, id string) (PlanResult, error) {
	var res PlanResult
	l := cfg.Layout()
	from, ok := CurrentRuntime(cfg)
	if !ok {
		return res, errors.New("no runtime is installed yet: start openclawd first, it installs the pinned one")
	}
	st, err := UpgradeStore(cfg).Load()
	if err != nil {
		return res, err
	}
	if st.Journal != nil {
		return res, upgrade.ErrInProgress
	}
	p := upgrade.Plan{ID: id, Kind: upgrade.KindUpgrade, From: from}
	_, _, wantKey, err := wantedRuntime(cfg)
	if err != nil {
		return res, err
	}
	p.Wanted = wantKey
	switch {
	case req.Rollback:
		prev := st.Previous
		if prev == nil {
			return res, errors.New("nothing to roll back to: no upgrade has finished on this host yet")
		}
		if !provision.Complete(l.Runtime(), prev.Runtime.Dirs) {
			return res, fmt.Errorf("the previous runtime (%s) has been removed from %s: `openclawd upgrade --openclaw %s --node %s` installs it again, with the state as it is now", prev.Runtime, l.Runtime(), prev.Runtime.Openclaw, prev.Runtime.Node)
		}
		if _, err := os.Stat(prev.Snapshot); err != nil {
			return res, fmt.Errorf("the state from before the upgrade is gone (%v): `openclawd restore` an archive instead", err)
		}
		p.Kind, p.To, p.Restore = upgrade.KindRollback, prev.Runtime, prev.Snapshot
		res.Notes = append(res.Notes, fmt.Sprintf("the state goes back to %s, when %s was left: what the gateway wrote since is kept in a backup made first", prev.Left.Local().Format(time.DateTime), prev.Runtime))
	case req.Openclaw == "" && req.Node == "":
		to, in, _, err := wantedRuntime(cfg)
		if err != nil {
			return res, err
		}
		p.To, p.Install = to, in
	default:
		if err := resolveVersions(ctx, cfg, req, &p, &res); err != nil {
			return res, err
		}
	}
	if p.To.Same(from) {
		res.Plan, res.UpToDate = p, true
		return res, nil
	}
	if b := st.BlockOf(p.To); b != nil && !req.Force {
		return res, fmt.Errorf("%s is blocked: it failed its health gate on %s (%s); `--force` tries it again", p.To, b.At.Local().Format(time.DateTime), b.Reason)
	}
	if c, err := semver.Compare(p.To.Openclaw, from.Openclaw); err == nil && c < 0 && p.Kind != upgrade.KindRollback {
		res.Notes = append(res.Notes, fmt.Sprintf("openclaw %s is older than %s: its preflight refuses a state database it can't read, and nothing changes then", p.To.Openclaw, from.Openclaw))
	}
	if err := diskCheck(cfg, p, &res); err != nil {
		return res, err
	}
	res.Plan = p
	return res, nil
}

// resolveVersions turns --openclaw/--node into a target: the version and
// its integrity from the registry npm is configured with, a lockfile with
// an integrity for every package, and a Node its engines accept.
func resolveVersions(ctx context.Context, cfg *config.Config, req apitype.UpgradeRequest, p *upgrade.Plan, res *PlanResult) error {
	l := cfg.Layout()
	from := p.From
	for _, v := range []struct{ flag, val string }{{"--openclaw", req.Openclaw}, {"--node", req.Node}} {
		if v.val != "" {
			if err := semver.Valid(v.val); err != nil {
				return fmt.Errorf("%s: %w", v.flag, err)
			}
		}
	}
	ocv := req.Openclaw
	if ocv == "" {
		ocv = from.Openclaw
	}
	curNode := node.Install{Dir: filepath.Join(l.Runtime(), from.Dirs.Node), Version: from.Node}
	pub, err := openclaw.View(ctx, curNode, l.NPMCache(), ocv)
	if err != nil {
		return err
	}
	ok := func(v string) bool { b, err := semver.Satisfies(v, pub.EnginesNode); return err == nil && b }
	nv := req.Node
	switch {
	case nv != "" && !ok(nv):
		return fmt.Errorf("openclaw %s requires Node %q (its engines.node), which Node %s does not satisfy: nothing was changed; pick a Node version in that range", ocv, pub.EnginesNode, nv)
	case nv != "":
	case ok(from.Node):
		nv = from.Node
	case ok(pins.NodeVersion):
		nv = pins.NodeVersion
		res.Notes = append(res.Notes, fmt.Sprintf("openclaw %s requires Node %q: Node moves from %s to %s too", ocv, pub.EnginesNode, from.Node, nv))
	default:
		return fmt.Errorf("openclaw %s requires Node %q, which neither the running Node %s nor the pinned %s satisfies: pass --node with a version in that range", ocv, pub.EnginesNode, from.Node, pins.NodeVersion)
	}
	platform, err := node.Platform()
	if err != nil {
		return err
	}
	p.To = upgrade.Runtime{Node: nv, Openclaw: ocv, Dirs: provision.Current{Node: "node-" + nv + "-" + platform, Openclaw: "openclaw-" + ocv}}
	p.Install.Integrity = pub.Integrity
	switch pinned := RuntimeOptions(cfg, nil).Node; {
	case nv == from.Node:
		// Installed already: nothing to download.
	case nv == pinned.Version:
		p.Install.NodeSHA256 = pinned.SHA256[platform]
	default:
		if p.Install.NodeSHA256, err = node.SumFor(ctx, cfg.Node.Mirror, nv); err != nil {
			return err
		}
	}
	if v, i, lock := pins.Openclaw(); ocv == v && pub.Integrity == i && lock != nil {
		return nil // the lock compiled into openclawd
	}
	if _, ok := openclaw.Find(openclaw.InstallOptions{Root: l.Runtime(), Version: ocv}); ok {
		return nil // installed already (the previous runtime, say)
	}
	dir := filepath.Join(l.Upgrade(), "plan-"+p.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	n, err := openclaw.ResolveLock(ctx, curNode, l.NPMCache(), dir, pub)
	if err != nil {
		return fmt.Errorf("resolving openclaw %s's dependencies: %w", ocv, err)
	}
	p.Install.LockDir = dir
	res.Notes = append(res.Notes, fmt.Sprintf("openclaw %s resolves to %d packages, each with an integrity hash npm ci checks", ocv, n))
	return nil
}

// diskCheck refuses a transaction the disk can't hold: the target's new
// directories (sized like the current ones) and the snapshot.
func diskCheck(cfg *config.Config, p upgrade.Plan, res *PlanResult) error {
	l := cfg.Layout()
	ents, err := provision.List(l.Runtime())
	if err != nil {
		return err
	}
	size := map[string]int64{}
	for _, e := range ents {
		if e.Complete {
			size[e.Name] = e.Bytes
		}
	}
	if _, ok := size[p.To.Dirs.Node]; !ok {
		res.NeedBytes += size[p.From.Dirs.Node]
	}
	if _, ok := size[p.To.Dirs.Openclaw]; !ok {
		res.NeedBytes += size[p.From.Dirs.Openclaw]
	}
	// The snapshot: about the last backup's size, else the state's.
	snap := int64(0)
	if r, err := backup.ReadRecord(l); err == nil && r.Local != nil {
		snap = max(r.Local.Size, r.Local.LastSize)
	}
	if snap == 0 {
		snap = fsutil.DirSize(l.Gateway())
	}
	res.NeedBytes += 2*snap + 100<<20 // openclaw's own archive, then ours; and room to breathe
	if res.FreeBytes, err = fsutil.FreeBytes(l.Upgrade()); err != nil {
		return fmt.Errorf("checking free space in %s: %w", l.Upgrade(), err)
	}
	if res.FreeBytes < res.NeedBytes {
		return fmt.Errorf("the %s needs about %d MB free in %s and %d MB are: nothing was changed; free some space (`sudo openclawd runtime prune` removes unused runtimes)", p.Kind, res.NeedBytes>>20, l.Root, res.FreeBytes>>20)
	}
	return nil
}

// journal is the transaction in progress, for a step's child.
func journal(cfg *config.Config) (*upgrade.Journal, error) {
	st, err := UpgradeStore(cfg).Load()
	if err != nil {
		return nil, err
	}
	if st.Journal == nil {
		return nil, errors.New("no upgrade in progress")
	}
	return st.Journal, nil
}

// InstallStep installs the target of the transaction in progress beside
// the current runtime; current.json is not touched.
func InstallStep(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	j, err := journal(cfg)
	if err != nil {
		return err
	}
	o := RuntimeOptions(cfg, log)
	platform, _ := node.Platform()
	o.Node.Version, o.Node.SHA256 = j.To.Node, map[string]string{platform: j.Install.NodeSHA256}
	o.Openclaw.Version, o.Openclaw.Integrity = j.To.Openclaw, j.Install.Integrity
	pv, pi, plock := pins.Openclaw()
	switch {
	case j.Install.LockDir != "":
		if j.Install.LockDir != filepath.Join(cfg.Layout().Upgrade(), "plan-"+j.ID) {
			return fmt.Errorf("the plan's lockfile %s is not in %s", j.Install.LockDir, cfg.Layout().Upgrade())
		}
		o.Openclaw.Lock = os.DirFS(j.Install.LockDir)
	case j.To.Openclaw == pv && j.Install.Integrity == pi:
		o.Openclaw.Lock = plock
	default:
		o.Openclaw.Lock = nil // resolved at install, checked against the integrity
	}
	if _, ok := node.Find(o.Node); !ok && j.Install.NodeSHA256 == "" {
		return fmt.Errorf("Node %s is not installed and the plan has no checksum for it", j.To.Node)
	}
	// Under the runtime lock (a prune or `runtime install` waits), beside
	// the current runtime, which stays current.
	o.KeepCurrent = true
	rt, err := provision.Ensure(ctx, o)
	if err == nil && rt.Fallback != nil {
		err = rt.Fallback
	}
	if err != nil {
		return err
	}
	n, oc := rt.Node, rt.Openclaw
	if got := (provision.Current{Node: filepath.Base(n.Dir), Openclaw: filepath.Base(oc.Dir)}); got != j.To.Dirs {
		return fmt.Errorf("installed %+v, but the plan names %+v", got, j.To.Dirs)
	}
	return nil
}

// Preflight statuses the target may start on (storage-changes.md):
// migration-required is an older database its start migrates.
var preflightOK = map[string]bool{"exact": true, "startup-repairable": true, "migration-required": true}

// PreflightStep has the target's own CLI check the state database of the
// snapshot the target will run on: `openclaw database preflight <copy>
// --json` on the consistent copy inside the archive (OpenClaw's backup
// takes it with SQLite's online backup, with no -wal beside it).
func PreflightStep(ctx context.Context, cfg *config.Config) (string, error) {
	j, err := journal(cfg)
	if err != nil {
		return "", err
	}
	archive := j.Restore
	if archive == "" {
		archive = j.Snapshot
	}
	l := cfg.Layout()
	s, err := backup.Stage(archive, l, backup.VerifyOptions{})
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(s.Dir)
	db := filepath.Join(s.Dir, "openclaw", "state", "openclaw.sqlite")
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return "no state database yet: nothing to check", nil
	}
	rt := provision.Runtime{Node: node.Install{Dir: filepath.Join(l.Runtime(), j.To.Dirs.Node)},
		Openclaw: openclaw.Install{Dir: filepath.Join(l.Runtime(), j.To.Dirs.Openclaw)}}
	cmd, err := openclawCommand(cfg, &rt, []string{"database", "preflight", db, "--json"})
	if err != nil {
		return "", err
	}
	// The target's CLI reads the staged copy as its state dir, never the
	// live one the running gateway owns: nothing changes before the switch.
	for i, kv := range cmd.Env {
		if strings.HasPrefix(kv, "OPENCLAW_STATE_DIR=") {
			cmd.Env[i] = "OPENCLAW_STATE_DIR=" + filepath.Join(s.Dir, "openclaw")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	out, runErr := runCommand(ctx, cmd)
	var r struct {
		Schema        string `json:"schema"`
		Status        string `json:"status"`
		TargetVersion int    `json:"targetVersion"`
		FoundVersion  int    `json:"foundVersion"`
		Issues        []any  `json:"issues"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Status == "" {
		return "", fmt.Errorf("openclaw %s's `database preflight` gave no verdict (%v): %s", j.To.Openclaw, cmp.Or(runErr, err), tail(string(out), 5))
	}
	verdict := fmt.Sprintf("status %q: database schema %d, openclaw %s expects %d", r.Status, r.FoundVersion, j.To.Openclaw, r.TargetVersion)
	if !preflightOK[r.Status] {
		if len(r.Issues) > 0 {
			b, _ := json.Marshal(r.Issues)
			verdict += "; issues: " + tail(string(b), 3)
		}
		return "", errors.New(verdict)
	}
	return verdict, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
