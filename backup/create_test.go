package backup

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCreateVerifyRoundTrip(t *testing.T) {
	fx := newFixture(t, "a")
	oc := fx.fake(t)
	res, err := Create(context.Background(), fx.options(oc, testNow))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if oc.calls != 1 {
		t.Errorf("openclaw ran %d times, want once", oc.calls)
	}
	if want := filepath.Join(fx.l.Backups(), "openclawd-backup-20261206T025449Z.tar"); res.Path != want {
		t.Errorf("Path = %s, want %s", res.Path, want)
	}
	fi, err := os.Lstat(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("archive mode %v, want -rw-------", fi.Mode())
	}
	if res.Size != fi.Size() || res.Size == 0 {
		t.Errorf("Size = %d, file has %d", res.Size, fi.Size())
	}

	m := res.Manifest
	if m.Format != Format || !m.Created.Equal(testNow) || m.OpenclawdVersion != "0.9.0-test" ||
		m.OpenclawVersion != "2026.9.6" || m.NodeVersion != "v24.21.0" || m.GatewayStateDir != fx.l.Gateway() {
		t.Errorf("manifest %+v", m)
	}
	if !m.Gateway.Config || !slices.Equal(m.Gateway.Databases, stateDatabases) {
		t.Errorf("Gateway = %+v, want openclaw.json and %v", m.Gateway, stateDatabases)
	}
	var got []string
	for _, f := range m.Files {
		got = append(got, f.Name)
	}
	slices.Sort(got)
	want := []string{
		"caddy/certificates/local/claw.example.com/claw.example.com.crt",
		"caddy/certificates/local/claw.example.com/claw.example.com.json",
		"caddy/certificates/local/claw.example.com/claw.example.com.key",
		"caddy/pki/authorities/local/root.crt",
		"config/gateway.env", "config/openclawd.yaml",
		"openclaw/" + innerRoot + ".tar.gz",
		"secrets/gateway-token",
	}
	if !slices.Equal(got, want) {
		t.Errorf("members\n%q\nwant (caddy/locks left out)\n%q", got, want)
	}
	ms := readMembers(t, res.Path)
	if last := ms[len(ms)-1].hdr.Name; last != ManifestName {
		t.Errorf("last member %s, want %s", last, ManifestName)
	}
	for _, x := range ms {
		if x.hdr.Name == "secrets/gateway-token" && string(x.body) != "token-a\n" {
			t.Errorf("token member holds %q", x.body)
		}
	}

	live, err := LiveContent(fx.l)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(live.Databases, stateDatabases) {
		t.Errorf("LiveContent databases %v, want %v (tmp/ left out)", live.Databases, stateDatabases)
	}
	vm, err := Verify(res.Path, VerifyOptions{Live: &live, LiveStateDir: fx.l.Gateway(), Openclaw: "2026.9.6"})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !slices.Equal(vm.Files, m.Files) || !slices.Equal(vm.Gateway.Databases, stateDatabases) {
		t.Errorf("Verify read back %+v, Create wrote %+v", vm, m)
	}

	list, err := List(fx.l.Backups())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != filepath.Base(res.Path) || list[0].Size != res.Size || !list[0].Created.Equal(testNow) {
		t.Errorf("List = %+v", list)
	}
	for _, n := range names(t, fx.l.Backups()) {
		if strings.HasPrefix(n, ".partial-") {
			t.Errorf("%s left behind", n)
		}
	}

	// A second archive a second later; the first stays.
	res2, err := Create(context.Background(), fx.options(fx.fake(t), testNow.Add(time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := List(fx.l.Backups()); len(list) != 2 || list[0].Name != filepath.Base(res2.Path) {
		t.Errorf("List after a second backup = %+v, want the new one first", list)
	}
	// The same second again: refused, not overwritten.
	if _, err := Create(context.Background(), fx.options(fx.fake(t), testNow.Add(time.Second))); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("Create in the same second: %v", err)
	}
}

func TestCreateRecord(t *testing.T) {
	fx := newFixture(t, "a")
	if r, err := ReadRecord(fx.l); err != nil || r.Local != nil || r.Targets != nil {
		t.Fatalf("ReadRecord with none = %+v, %v", r, err)
	}
	res := fx.create(t)
	good := Attempt{At: testNow, Name: filepath.Base(res.Path), Size: res.Size, Verified: true, TookMS: 12}
	if err := Note(fx.l, "", good); err != nil {
		t.Fatal(err)
	}
	if err := Note(fx.l, "usb", good); err != nil {
		t.Fatal(err)
	}
	later := testNow.Add(24 * time.Hour)
	if err := Note(fx.l, "", Attempt{At: later, Error: "not enough free space"}); err != nil {
		t.Fatal(err)
	}
	if err := Note(fx.l, "s3", Attempt{At: later, Error: "access denied"}); err != nil {
		t.Fatal(err)
	}
	r, err := ReadRecord(fx.l)
	if err != nil {
		t.Fatal(err)
	}
	l := r.Local
	if l == nil || !l.At.Equal(later) || l.Error != "not enough free space" || l.Name != "" ||
		!l.LastGood.Equal(testNow) || l.LastName != good.Name || l.LastSize != res.Size {
		t.Errorf("local after a failure = %+v, want the failure with the last good one kept", l)
	}
	if u := r.Targets["usb"]; u == nil || u.Error != "" || !u.LastGood.Equal(testNow) || u.LastName != good.Name {
		t.Errorf("usb = %+v", u)
	}
	if s := r.Targets["s3"]; s == nil || s.Error != "access denied" || !s.LastGood.IsZero() {
		t.Errorf("s3 (never good) = %+v", s)
	}
	// The record is not an archive.
	if list, _ := List(fx.l.Backups()); len(list) != 1 {
		t.Errorf("List = %+v", list)
	}
	// A damaged record is replaced by the next note.
	write(t, filepath.Join(fx.l.Backups(), "record.json"), []byte("{"))
	if _, err := ReadRecord(fx.l); err == nil {
		t.Error("ReadRecord of a damaged record: no error")
	}
	if err := Note(fx.l, "", good); err != nil {
		t.Fatal(err)
	}
	if r, err := ReadRecord(fx.l); err != nil || r.Local == nil || r.Local.Name != good.Name {
		t.Errorf("after replacing a damaged record: %+v, %v", r, err)
	}
}

func TestCreateRefuses(t *testing.T) {
	agentDB := "agents/main/agent/openclaw-agent.sqlite"
	tests := []struct {
		name string
		oc   func(f *fakeOpenclaw)
		want []string
	}{
		{"success without an archive", func(f *fakeOpenclaw) { f.noArchive = true },
			[]string{"reported success but wrote no archive", "openclaw#122916"}},
		{"openclaw fails", func(f *fakeOpenclaw) { f.err = errors.New("exit status 1") },
			[]string{"`openclaw backup create` failed", "exit status 1"}},
		{"not verified", func(f *fakeOpenclaw) {
			f.result = func(a string) string { return `{"archivePath":"` + a + `","verified":false}` }
		}, []string{"did not verify its archive"}},
		{"no JSON", func(f *fakeOpenclaw) {
			f.result = func(string) string { return "error: unknown option '--json'\n" }
		}, []string{"printed no result", "unknown option"}},
		{"archive elsewhere", func(f *fakeOpenclaw) {
			f.result = func(string) string { return `{"archivePath":"/tmp/` + innerRoot + `.tar.gz","verified":true}` }
		}, []string{"wrote its archive to /tmp/" + innerRoot + ".tar.gz, not to"}},
		{"a database missing", func(f *fakeOpenclaw) { f.skip = func(rel string) bool { return rel == agentDB } },
			[]string{"failed verification", "lacks databases the live state has: " + agentDB}},
		{"no openclaw.json", func(f *fakeOpenclaw) { f.skip = func(rel string) bool { return rel == "openclaw.json" } },
			[]string{"holds no openclaw.json"}},
		{"wrong state dir", func(f *fakeOpenclaw) {
			f.stateDir = "/old/.clawdbot" // the pre-rename path
		}, []string{"holds /old/.clawdbot", "backed up the wrong directory"}},
		{"truncated database", func(f *fakeOpenclaw) {
			f.edit = func(rel string, b []byte) []byte {
				if rel == "state/openclaw.sqlite" {
					return b[:3000]
				}
				return b
			}
		}, []string{"database state/openclaw.sqlite in the archive is damaged", "whole number of 4096-byte pages"}},
		{"not a database", func(f *fakeOpenclaw) {
			f.edit = func(rel string, b []byte) []byte {
				if rel == agentDB {
					return make([]byte, 4096)
				}
				return b
			}
		}, []string{agentDB + " in the archive is damaged", "not a SQLite database"}},
		{"newer manifest schema", func(f *fakeOpenclaw) { f.schema = 2 }, []string{"schema version 2", "upgrade openclawd"}},
		{"unsafe name", func(f *fakeOpenclaw) { f.extra = []innerEntry{{name: innerRoot + "/../../etc/cron.d/x"}} },
			[]string{"unsafe member name"}},
		{"absolute name", func(f *fakeOpenclaw) { f.extra = []innerEntry{{name: "/etc/passwd"}} },
			[]string{"unsafe member name \"/etc/passwd\""}},
		{"two roots", func(f *fakeOpenclaw) { f.extra = []innerEntry{{name: "other/x"}} },
			[]string{"two roots"}},
		{"a hard link", func(f *fakeOpenclaw) {
			f.extra = []innerEntry{{name: innerRoot + "/payload/x", typ: '1', link: "/etc/shadow"}}
		}, []string{"of a type a backup never has"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, "a")
			oc := fx.fake(t)
			tc.oc(oc)
			_, err := Create(context.Background(), fx.options(oc, testNow))
			if err == nil {
				t.Fatal("Create succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
			if oc.calls != 1 {
				t.Errorf("openclaw ran %d times", oc.calls)
			}
			assertNoArchive(t, fx.l.Backups())
		})
	}
}

func TestCreateLeftovers(t *testing.T) {
	fx := newFixture(t, "a")
	// What an interrupted backup left is removed; other files stay.
	stale := filepath.Join(fx.l.Backups(), ".partial-123")
	write(t, filepath.Join(stale, "archive.tar"), []byte("half"))
	fx.create(t)
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale partial: %v", err)
	}
}

func TestCreateLocked(t *testing.T) {
	fx := newFixture(t, "a")
	unlock, err := Lock(context.Background(), fx.l, 0)
	if err != nil {
		t.Fatal(err)
	}
	oc := fx.fake(t)
	_, err = Create(context.Background(), fx.options(oc, testNow))
	if err == nil || !strings.Contains(err.Error(), "another backup or restore is running") {
		t.Errorf("Create while locked: %v", err)
	}
	if oc.calls != 0 {
		t.Error("openclaw ran while another backup held the lock")
	}
	// A manual backup waits for the one in progress.
	o := fx.options(oc, testNow)
	o.LockWait = time.Minute
	done := make(chan error, 1)
	go func() { _, err := Create(context.Background(), o); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Create did not wait for the lock: %v", err)
	case <-time.After(300 * time.Millisecond): // it must still be waiting
	}
	unlock()
	if err := <-done; err != nil {
		t.Errorf("Create after the lock was freed: %v", err)
	}
}

func TestCreateNoSpace(t *testing.T) {
	fx := newFixture(t, "a")
	var st unix.Statfs_t
	if err := unix.Statfs(fx.l.Backups(), &st); err != nil {
		t.Fatal(err)
	}
	// A sparse file as big as the free space: a backup would need twice it.
	p := filepath.Join(fx.l.Gateway(), "media", "big.bin")
	write(t, p, nil)
	big, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	if err := big.Truncate(int64(st.Bavail) * int64(st.Bsize)); err != nil {
		t.Skipf("cannot make a sparse file as big as the free space: %v", err)
	}
	oc := fx.fake(t)
	_, err = Create(context.Background(), fx.options(oc, testNow))
	if err == nil || !strings.Contains(err.Error(), "not enough free space") || !strings.Contains(err.Error(), "backup.keep") {
		t.Errorf("Create without room: %v", err)
	}
	if oc.calls != 0 {
		t.Error("openclaw ran without room for its archive")
	}
	assertNoArchive(t, fx.l.Backups())
}

func TestLiveContent(t *testing.T) {
	fx := newFixture(t, "a")
	g := fx.l.Gateway()
	for _, p := range []string{"cache/x.sqlite", "node_modules/y.sqlite", "plugin-skills/z.sqlite",
		"sandbox/skills-workspaces/w/a.sqlite", "agents/main/.tmp/t.sqlite", "agents/main/tmp/t.sqlite",
		"x.update-captures/c.sqlite"} {
		write(t, filepath.Join(g, p), sqliteDB())
	}
	write(t, filepath.Join(g, "memory", "index.sqlite"), sqliteDB())
	c, err := LiveContent(fx.l)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"memory/index.sqlite"}, stateDatabases...)
	slices.Sort(want)
	if !c.Config || !slices.Equal(c.Databases, want) {
		t.Errorf("LiveContent = %+v, want config and %v", c, want)
	}
	// No gateway state at all is empty, not an error.
	if err := os.RemoveAll(g); err != nil {
		t.Fatal(err)
	}
	if c, err := LiveContent(fx.l); err != nil || c.Config || len(c.Databases) != 0 {
		t.Errorf("LiveContent of nothing = %+v, %v", c, err)
	}
}

// The manifest is JSON a person can read: the field names are part of the
// format.
func TestManifestJSON(t *testing.T) {
	fx := newFixture(t, "a")
	res := fx.create(t)
	ms := readMembers(t, res.Path)
	var raw map[string]any
	if err := json.Unmarshal(ms[len(ms)-1].body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format", "created", "host", "openclawd_version", "openclaw_version", "node_version", "gateway_state_dir", "gateway", "files"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("manifest lacks %q: %v", k, raw)
		}
	}
}

// No Caddy storage, no token, no config files: the archive holds
// OpenClaw's alone, and a restore of it brings empty items.
func TestCreateMinimal(t *testing.T) {
	fx := newFixture(t, "a")
	for _, p := range []string{fx.l.Caddy(), fx.l.Secrets()} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	o := fx.options(fx.fake(t), testNow)
	o.ConfigPath, o.EnvFile = "", ""
	res, err := Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Files) != 1 || !strings.HasPrefix(res.Manifest.Files[0].Name, gatewayDir) {
		t.Errorf("Files = %+v", res.Manifest.Files)
	}
	b := newFixture(t, "b")
	s, err := Stage(res.Path, b.l, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"secrets", "caddy", "config"} {
		if n := names(t, filepath.Join(s.Dir, d)); len(n) != 0 {
			t.Errorf("staged %s holds %q", d, n)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "openclaw", "openclaw.json")); err != nil {
		t.Error(err)
	}
}
