package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/internal/npmtest"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/pins"
	"github.com/openclawd/openclawd/statedir"
	"github.com/openclawd/openclawd/upgrade"
)

// The release before the pinned one, published with the same Node floor;
// its state schema is 17, the pin's 18 (measured with `database preflight`).
const (
	olderOpenclaw          = "2026.9.5"
	olderOpenclawIntegrity = "sha512-TCO/ImVLh5HkF4tdfo7iriIa7kT6iYkIr/jR5ZOkePGFGhUx5Oe7DE716Y1DzzG2teRAVDdCjgJDu1A24Yta7w=="
)

const upgradeCfg = "upgrade:\n  stable_window: 10s\n"

// TestRealUpgrade: openclaw 2026.9.5 with real state, upgraded to the
// pinned 2026.9.6 through the whole transaction, rolled back to 2026.9.5
// with its own (unmigrated) state, then moved to the pins again the way a
// new openclawd package does it: at its start, never silently.
func TestRealUpgrade(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: npm runs as the unprivileged install user")
	}
	in := newRealInstance(t)
	override := fmt.Sprintf("openclaw:\n  version: %s\n  integrity: %s\n", olderOpenclaw, olderOpenclawIntegrity)
	appendConfig(t, in.cfg, override+upgradeCfg)
	in.start()
	state := filepath.Join(in.dir, "state")
	waitVersion(t, in, olderOpenclaw, 8*time.Minute)
	if v := dbVersion(t, state); v != 17 {
		t.Fatalf("openclaw %s's database is at schema %d, want 17", olderOpenclaw, v)
	}

	t.Run("engines mismatch refused before anything changes", func(t *testing.T) {
		before := snapshotFiles(t, filepath.Join(state, "runtime"), filepath.Join(state, "upgrade"))
		out, rc := in.cli("upgrade", "--config", in.cfg, "--openclaw", pins.OpenclawVersion, "--node", "22.12.0", "--yes")
		if rc != 1 || !strings.Contains(out, `requires Node ">=24.16.0 <25 || >=26.1.0"`) || !strings.Contains(out, "nothing was changed") {
			t.Fatalf("upgrade to Node 22: rc %d\n%s", rc, out)
		}
		if after := snapshotFiles(t, filepath.Join(state, "runtime"), filepath.Join(state, "upgrade")); !equalStrings(before, after) {
			t.Errorf("the refused upgrade changed files:\nbefore %v\nafter  %v", before, after)
		}
	})

	t.Run("check shows the plan and changes nothing", func(t *testing.T) {
		out, rc := in.cli("upgrade", "--config", in.cfg, "--openclaw", pins.OpenclawVersion, "--check")
		if rc != 0 || !strings.Contains(out, "openclaw "+olderOpenclaw+" → "+pins.OpenclawVersion) {
			t.Fatalf("upgrade --check: rc %d\n%s", rc, out)
		}
		if _, err := os.Stat(filepath.Join(state, "runtime", "openclaw-"+pins.OpenclawVersion)); err == nil {
			t.Error("--check installed the target")
		}
		out, rc = in.cli("upgrade", "--config", in.cfg, "--openclaw", pins.OpenclawVersion)
		if rc != 2 || !strings.Contains(out, "--yes") {
			t.Errorf("upgrade without --yes and no terminal: rc %d\n%s", rc, out)
		}
	})

	t.Run("upgrade to the pinned release", func(t *testing.T) {
		out, rc := in.cli("upgrade", "--config", in.cfg, "--openclaw", pins.OpenclawVersion, "--yes")
		if rc != 0 {
			t.Fatalf("upgrade: rc %d\n%s\nstderr:\n%s", rc, out, in.stderr.String())
		}
		for _, step := range []string{"install", "snapshot", "preflight", "switch", "gate", "commit", "done"} {
			if !strings.Contains(out, " "+step+" ") && !strings.Contains(out, " "+step+"\n") {
				t.Errorf("upgrade output lacks the %s step:\n%s", step, out)
			}
		}
		st := waitVersion(t, in, pins.OpenclawVersion, time.Minute)
		if u := st.Upgrade; u == nil || u.Previous == nil || u.Previous.Openclaw != olderOpenclaw || u.Last.Result != upgrade.ResultDone {
			t.Fatalf("status after the upgrade: %+v", st.Upgrade)
		}
		if v := dbVersion(t, state); v != 18 {
			t.Errorf("the upgraded gateway left schema %d, want 18", v)
		}
	})

	t.Run("rollback returns the old release with its own state", func(t *testing.T) {
		out, rc := in.cli("rollback", "--config", in.cfg, "--yes")
		if rc != 0 {
			t.Fatalf("rollback: rc %d\n%s\nstderr:\n%s", rc, out, in.stderr.String())
		}
		st := waitVersion(t, in, olderOpenclaw, time.Minute)
		// Code alone would not start: 2026.9.5 exits 78 on schema 18.
		if v := dbVersion(t, state); v != 17 {
			t.Errorf("after the rollback the database is at schema %d, want 17", v)
		}
		if u := st.Upgrade; u.Previous == nil || u.Previous.Openclaw != pins.OpenclawVersion {
			t.Errorf("rollback's previous: %+v", u.Previous)
		}
	})

	t.Run("a new openclawd's pins move the gateway at its start, through the transaction", func(t *testing.T) {
		// The config no longer overrides the pin: as a package upgrade
		// that brings new pins, seen by the next start.
		b := readFile(t, in.cfg)
		if err := os.WriteFile(in.cfg, []byte(strings.Replace(b, override, "", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if rc := in.stop(); rc != 0 {
			t.Fatalf("openclawd exited %d", rc)
		}
		in.start()
		st := waitVersion(t, in, pins.OpenclawVersion, 5*time.Minute)
		last := st.Upgrade.Last
		if last == nil || last.Kind != upgrade.KindPins || last.Result != upgrade.ResultDone || last.From.Openclaw != olderOpenclaw {
			t.Fatalf("the start's transaction: %+v", last)
		}
		// It started on the old runtime first: never a silent switch.
		if !strings.Contains(in.stderr.String(), "this openclawd pins another runtime than the one running") {
			t.Errorf("no log of the pinned upgrade:\n%s", in.stderr.String())
		}
		if st.Upgrade.Pinned != nil {
			t.Errorf("status still says the pins differ: %+v", st.Upgrade)
		}
	})
}

// TestRealUpgradeFailingTarget upgrades the real gateway to a test-built
// openclaw that migrates the database and then exits during its start
// (internal/npmtest), served by a local registry in front of the real
// one. openclawd is killed with SIGKILL at each step of the transaction
// long enough to catch from outside (package upgrade's tests kill it at
// every step); every restart finishes or undoes it. Then one runs to the end: rolled
// back, the old version healthy on exactly the state it had, the target
// blocked.
func TestRealUpgradeFailingTarget(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: npm runs as the unprivileged install user")
	}
	const bad = "2026.99.0"
	reg := npmtest.Start(t, npmtest.FailingOpenclaw(bad))
	env := []string{"npm_config_registry=" + reg.URL}
	in := newRealInstance(t)
	appendConfig(t, in.cfg, upgradeCfg)
	in.start(env...)
	state := filepath.Join(in.dir, "state")
	daemonPID := waitVersion(t, in, pins.OpenclawVersion, 8*time.Minute).PID

	for _, phase := range []string{upgrade.PhaseInstall, upgrade.PhaseSnapshot, upgrade.PhasePreflight, upgrade.PhaseGate, upgrade.PhaseUndoGate} {
		// One test, not subtests: each start's cleanup belongs to the
		// test that outlives the loop.
		func() {
			cli := exec.Command(bins.openclawd, "upgrade", "--config", in.cfg, "--openclaw", bad, "--yes", "--force")
			if err := cli.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cli.Process.Kill(); _ = cli.Wait() }()
			store := upgrade.Store{Dir: filepath.Join(state, "upgrade")}
			waitFor(t, 5*time.Minute, "the "+phase+" step", func() bool {
				st, err := store.Load()
				return err == nil && st.Journal != nil && st.Journal.Phase == phase
			})
			// kill -9 of the daemon itself (started as root, openclawd
			// runs as the service user in a child; the root parent only
			// waits for it).
			if err := syscall.Kill(daemonPID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-in.exited
			in.start(env...)
			st := waitVersion(t, in, pins.OpenclawVersion, 5*time.Minute)
			daemonPID = st.PID
			waitFor(t, 3*time.Minute, "the transaction's end", func() bool {
				s, err := store.Load()
				return err == nil && s.Journal == nil && s.Last != nil && s.Last.To.Openclaw == bad
			})
			s, _ := store.Load()
			if s.Last.Result == upgrade.ResultDone {
				t.Fatalf("the failing target passed: %+v", s.Last)
			}
			st, _ = in.status()
			if !st.Healthy || st.Health.Version != pins.OpenclawVersion {
				t.Fatalf("after the restart: healthy %v on %s", st.Healthy, st.Health.Version)
			}
			checkUnmigrated(t, state)
			t.Logf("killed during %s: %s (%s)", phase, s.Last.Result, s.Last.Reason)
		}()
	}

	out, rc := in.cli("upgrade", "--config", in.cfg, "--openclaw", bad, "--yes", "--force")
	if rc != 1 || !strings.Contains(out, "failed its health gate") || !strings.Contains(out, "rolled back") {
		t.Fatalf("upgrade to the failing target: rc %d\n%s", rc, out)
	}
	st := waitVersion(t, in, pins.OpenclawVersion, time.Minute)
	if u := st.Upgrade; u == nil || len(u.Blocked) != 1 || u.Blocked[0].Runtime.Openclaw != bad || u.Last.Result != upgrade.ResultRolledBack {
		t.Fatalf("status after the rollback: %+v", st.Upgrade)
	}
	if !slices.ContainsFunc(st.Warnings, func(w apitype.Warning) bool { return w.Code == "upgrade_rolled_back" && strings.Contains(w.Text, bad) }) {
		t.Errorf("no upgrade_rolled_back warning: %+v", st.Warnings)
	}
	out, rc = in.cli("upgrade", "--config", in.cfg, "--openclaw", bad, "--yes")
	if rc != 1 || !strings.Contains(out, "is blocked") || !strings.Contains(out, "--force") {
		t.Errorf("upgrade to the blocked target: rc %d\n%s", rc, out)
	}

	// The state is the snapshot's: the same SQLite contents, not only
	// files. The old gateway has booted on it since, so the tables that
	// journal each boot and backup may have grown: their snapshot rows
	// must all still be there. Everything else is equal.
	snap := newestArchive(t, state)
	if rc := in.stop(); rc != 0 {
		t.Fatalf("openclawd exited %d", rc)
	}
	want, got := dumpDB(t, state, snapshotDB(t, snap)), dumpDB(t, state, filepath.Join(state, "openclaw", "state", "openclaw.sqlite"))
	compareDumps(t, want, got)
}

// waitVersion waits for a healthy gateway, with the WebSocket's hello-ok,
// on openclaw v, and no transaction in progress.
func waitVersion(t *testing.T, in *instance, v string, d time.Duration) apitype.Status {
	t.Helper()
	st, _ := in.waitStatus("a healthy gateway on openclaw "+v, d, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Healthy && s.Health.Deep.HelloOK && s.Health.Version == v && (s.Upgrade == nil || s.Upgrade.Running == nil)
	})
	return st
}

// snapshotFiles lists the names under dirs (not their contents).
func snapshotFiles(t *testing.T, dirs ...string) []string {
	var out []string
	for _, d := range dirs {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			out = append(out, filepath.Join(d, e.Name()))
		}
	}
	return out
}

// dbScript dumps a SQLite database as JSON with the runtime's own Node
// (node:sqlite): user_version, the schema, and every table's rows, sorted.
const dbScript = `
const {DatabaseSync} = require('node:sqlite');
const db = new DatabaseSync(process.argv[1], {readOnly: true});
const enc = (k, v) => typeof v === 'bigint' ? v.toString() : (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v);
const out = {user_version: db.prepare('PRAGMA user_version').get().user_version,
  schema: db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").all(), tables: {}};
out.pks = {};
for (const {name} of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()) {
  const q = '"' + name.replaceAll('"', '""') + '"';
  out.tables[name] = db.prepare('SELECT * FROM ' + q).all().map(r => JSON.stringify(r, enc)).sort();
  out.pks[name] = db.prepare('PRAGMA table_info(' + q + ')').all().filter(c => c.pk > 0).sort((a, b) => a.pk - b.pk).map(c => c.name);
}
process.stdout.write(JSON.stringify(out));
`

type dbDump struct {
	UserVersion int                 `json:"user_version"`
	Schema      []map[string]any    `json:"schema"`
	Tables      map[string][]string `json:"tables"`
	PKs         map[string][]string `json:"pks"` // each table's primary key columns
}

func dumpDB(t *testing.T, state, db string) dbDump {
	t.Helper()
	nodes, _ := filepath.Glob(filepath.Join(state, "runtime", "node-*", "bin", "node"))
	if len(nodes) == 0 {
		t.Fatal("no Node under the runtime dir")
	}
	cmd := exec.Command(nodes[0], "-e", dbScript, db)
	cmd.Env = append(os.Environ(), "NODE_NO_WARNINGS=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dumping %s: %v", db, err)
	}
	var d dbDump
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("dumping %s: %v", db, err)
	}
	return d
}

func dbVersion(t *testing.T, state string) int {
	return dumpDB(t, state, filepath.Join(state, "openclaw", "state", "openclaw.sqlite")).UserVersion
}

// checkUnmigrated: the failing target's migration is not in the live state.
func checkUnmigrated(t *testing.T, state string) {
	t.Helper()
	d := dumpDB(t, state, filepath.Join(state, "openclaw", "state", "openclaw.sqlite"))
	if _, ok := d.Tables["fake_upgrade_marker"]; ok || d.UserVersion != 18 {
		t.Fatalf("the live database holds the failed target's migration: user_version %d, tables %v", d.UserVersion, keys(d.Tables))
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// After the rollback the old gateway booted again, and its boot and
// scheduler write: journals are appended to (each snapshot row must still
// be there), and other rows are updated in place (a job's next run, a
// file's last-seen size). So every table must hold the same rows by
// primary key, and the tables that say who may connect and which schema
// this is must be equal to the byte.
var (
	journals = map[string]bool{"gateway_boot_lifecycle": true, "backup_runs": true, "diagnostic_events": true}
	exact    = []string{"device_identities", "config_revision_keys", "schema_meta", "migration_runs"}
)

// rowKeys is each row's key columns (nil: the whole row), sorted.
func rowKeys(t *testing.T, rows []string, cols []string) []string {
	var out []string
	if cols == nil {
		return slices.Sorted(slices.Values(rows))
	}
	for _, r := range rows {
		var m map[string]any
		if err := json.Unmarshal([]byte(r), &m); err != nil {
			t.Fatal(err)
		}
		var k []string
		for _, c := range cols {
			k = append(k, fmt.Sprint(m[c]))
		}
		out = append(out, strings.Join(k, " "))
	}
	slices.Sort(out)
	return out
}

func compareDumps(t *testing.T, want, got dbDump) {
	t.Helper()
	if want.UserVersion != got.UserVersion {
		t.Errorf("user_version %d, snapshot's %d", got.UserVersion, want.UserVersion)
	}
	ws, _ := json.Marshal(want.Schema)
	gs, _ := json.Marshal(got.Schema)
	if string(ws) != string(gs) {
		t.Errorf("schema differs from the snapshot's:\nwant %s\ngot  %s", ws, gs)
	}
	if !equalStrings(keys(want.Tables), keys(got.Tables)) {
		t.Errorf("tables %v, snapshot's %v", keys(got.Tables), keys(want.Tables))
	}
	rows := 0
	for name, w := range want.Tables {
		g := got.Tables[name]
		rows += len(w)
		cols := want.PKs[name]
		if len(cols) == 0 {
			cols = nil // no primary key: whole rows
		}
		wk, gk := rowKeys(t, w, cols), rowKeys(t, g, cols)
		if journals[name] {
			for _, k := range wk {
				if !slices.Contains(gk, k) {
					t.Errorf("table %s lost the snapshot's row %s", name, k)
				}
			}
			continue
		}
		if !equalStrings(wk, gk) {
			t.Errorf("table %s holds rows %v, the snapshot %v", name, gk, wk)
		}
	}
	for _, name := range exact {
		if len(want.Tables[name]) == 0 && (name == "schema_meta" || name == "device_identities") {
			t.Errorf("the snapshot's %s is empty: nothing to compare", name)
		}
		if !equalStrings(want.Tables[name], got.Tables[name]) {
			t.Errorf("table %s differs from the snapshot's:\nwant %v\ngot  %v", name, want.Tables[name], got.Tables[name])
		}
	}
	if rows == 0 {
		t.Error("the snapshot's database holds no rows: nothing was compared")
	}
}

func newestArchive(t *testing.T, state string) string {
	a := archives(t, state)
	if len(a) == 0 {
		t.Fatal("no backup archives")
	}
	slices.Sort(a) // named by their UTC time
	return filepath.Join(state, "backups", a[len(a)-1])
}

// snapshotDB extracts the state database of a backup archive.
func snapshotDB(t *testing.T, archive string) string {
	t.Helper()
	l := statedir.Layout{Root: t.TempDir()}
	if err := os.MkdirAll(l.Restore(), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := backup.Stage(archive, l, backup.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(s.Dir, "openclaw", "state", "openclaw.sqlite")
}
