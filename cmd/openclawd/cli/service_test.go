package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/openclawd/openclawd/packaging"
	"github.com/openclawd/openclawd/service"
)

// The service tests run `openclawd service …` in a private mount namespace
// (dependencies.md §7): tmpfs over /run/systemd (with system/ in it, so
// kardianos picks systemd), /etc/systemd/system and /var/lib, copies of
// /etc/passwd and /etc/group without openclawd, and fake systemctl,
// useradd and groupadd first on PATH that log their argv.

const helperEnv = "OPENCLAWD_SERVICE_HELPER"

// TestServiceHelper is the process inside the namespace, one per step:
// kardianos detects the init system when the package initialises, so the
// mounts must exist before this binary starts.
func TestServiceHelper(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	var steps [][]string
	b, _ := os.ReadFile(filepath.Join(dir, "steps.json"))
	if err := json.Unmarshal(b, &steps); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(99)
	}
	n, _ := strconv.Atoi(os.Getenv("OPENCLAWD_TEST_STEP"))
	exe := os.Getenv("OPENCLAWD_TEST_EXE")
	service.Host.Exe = func() (string, error) { return exe, nil }
	// The test's files live under /tmp, which the unit would hide.
	service.Host.Hidden = filepath.SplitList(os.Getenv("OPENCLAWD_TEST_HIDDEN"))
	os.Exit(Main(steps[n], os.Stdout, os.Stderr))
}

const nsScript = `set -eu
mount -t tmpfs tmpfs /run/systemd
[ -n "${NO_SYSTEMD:-}" ] || mkdir /run/systemd/system
mount -t tmpfs tmpfs /etc/systemd/system
mount -t tmpfs tmpfs /var/lib
for f in passwd group; do
	grep -v '^openclawd:' /etc/$f > "$T/$f" || true
	mount --bind "$T/$f" /etc/$f
done
[ ! -f "$T/seed.service" ] || cp "$T/seed.service" /etc/systemd/system/openclawd.service
[ -z "${DPKG:-}" ] || { mkdir -p /var/lib/dpkg/info; echo /usr/bin/openclawd > /var/lib/dpkg/info/openclawd.list; }
i=0
while [ "$i" -lt "$NSTEPS" ]; do
	echo "--- $i" >> "$T/calls"
	rc=0; OPENCLAWD_TEST_STEP=$i "$TESTBIN" -test.run='^TestServiceHelper$' > "$T/out.$i" 2>&1 || rc=$?
	echo "$rc" > "$T/rc.$i"
	i=$((i+1))
done
mkdir "$T/units"; cp -a /etc/systemd/system/. "$T/units/"
[ ! -d /var/lib/openclawd ] || stat -c '%u %g %a' /var/lib/openclawd > "$T/statedir"
`

const fakeSystemctl = `#!/bin/sh
echo "systemctl $*" >> "$T/calls"
case "$1" in
start) : > "$T/active" ;;
stop) [ -f "$T/active" ] || { echo "Unit openclawd.service not loaded." >&2; exit 5; }; rm "$T/active" ;;
is-active) if [ -f "$T/active" ]; then echo active; else echo inactive; exit 3; fi ;;
list-unit-files) [ ! -f /etc/systemd/system/openclawd.service ] || echo "openclawd.service enabled enabled" ;;
esac
`

// The fakes append to the namespace's copies of /etc/passwd and /etc/group.
const fakeUseradd = `#!/bin/sh
echo "useradd $*" >> "$T/calls"
for name; do :; done
echo "$name:x:64990:64990::/var/lib/openclawd:/usr/sbin/nologin" >> /etc/passwd
`

const fakeGroupadd = `#!/bin/sh
echo "groupadd $*" >> "$T/calls"
for name; do :; done
echo "$name:x:64990:" >> /etc/group
`

type nsResult struct {
	dir   string
	rc    []int
	out   []string
	calls [][]string // per step
}

func (r nsResult) unit(t *testing.T) (string, bool) {
	b, err := os.ReadFile(filepath.Join(r.dir, "units", "openclawd.service"))
	return string(b), err == nil
}

// runInNamespace runs each step as `openclawd <step…>` in one namespace,
// with the binary at exe; env adds NO_SYSTEMD=1, DPKG=1.
func runInNamespace(t *testing.T, dir, exe string, env []string, steps ...[]string) nsResult {
	t.Helper()
	if os.Geteuid() != 0 {
		needPrereq(t, "root (for unshare --mount)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		needPrereq(t, "unshare (util-linux)")
	}
	bin := filepath.Join(dir, "fakebin")
	os.MkdirAll(bin, 0o755)
	for name, s := range map[string]string{"systemctl": fakeSystemctl, "useradd": fakeUseradd, "groupadd": fakeGroupadd} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(steps)
	os.WriteFile(filepath.Join(dir, "steps.json"), b, 0o644)
	testbin, _ := os.Executable()
	cmd := exec.Command("unshare", "--mount", "--fork", "sh", "-c", nsScript)
	cmd.Env = append(os.Environ(), "T="+dir, "TESTBIN="+testbin, "NSTEPS="+strconv.Itoa(len(steps)),
		helperEnv+"="+dir, "OPENCLAWD_TEST_EXE="+exe, "OPENCLAWD_TEST_HIDDEN=", "PATH="+bin+":"+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("namespace script: %v\n%s", err, out)
	}
	r := nsResult{dir: dir}
	for i := range steps {
		rcb, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("rc.%d", i)))
		rc, _ := strconv.Atoi(strings.TrimSpace(string(rcb)))
		out, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out.%d", i)))
		r.rc, r.out = append(r.rc, rc), append(r.out, string(out))
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	for _, line := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
		if strings.HasPrefix(line, "--- ") {
			r.calls = append(r.calls, nil)
		} else if line != "" && len(r.calls) > 0 {
			r.calls[len(r.calls)-1] = append(r.calls[len(r.calls)-1], line)
		}
	}
	return r
}

// needPrereq skips on a developer's machine; under CI a skipped system
// test would count as a pass, so it fails there.
func needPrereq(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("needs %s", what)
	}
	t.Skipf("needs %s", what)
}

func TestServiceSystemd(t *testing.T) {
	const (
		groupadd = "groupadd --system openclawd"
		useradd  = "useradd --system --gid openclawd --home-dir /var/lib/openclawd --no-create-home --shell /usr/sbin/nologin --comment openclawd (OpenClaw gateway) openclawd"
		enable   = "systemctl enable openclawd.service"
		reload   = "systemctl daemon-reload"
		// The memory drop-in, written once the unit is: a second reload.
		memReload = reload
	)
	type env struct {
		dir, cfg, realBin string
	}
	install := func(e env) []string { return []string{"service", "install", "--config", e.cfg} }
	verb := func(v string, extra ...string) func(env) []string {
		return func(e env) []string { return append([]string{"service", v, "--config", e.cfg}, extra...) }
	}
	tests := []struct {
		name    string
		nsEnv   []string
		brew    bool   // the binary lives in a Homebrew Cellar
		private bool   // the binary's directory is 0700
		seed    string // an existing unit file
		config  string // an existing config (%[1]s: the test's directory)
		steps   []func(env) []string
		wantRC  []int
		calls   [][]string // per step
		wantOut []string   // in the last step's output
		check   func(t *testing.T, e env, r nsResult)
	}{
		{name: "install creates the user, config, env file and state dir, writes our unit and enables it",
			steps: []func(env) []string{install}, wantRC: []int{0},
			calls:   [][]string{{groupadd, useradd, enable, reload, memReload}},
			wantOut: []string{"wrote the default config", "root:openclawd 0640", "installed /etc/systemd/system/openclawd.service", "next: sudo openclawd setup"},
			check: func(t *testing.T, e env, r nsResult) {
				got, ok := r.unit(t)
				if want := packaging.SystemdUnit(e.realBin, e.cfg); !ok || got != want {
					t.Errorf("unit file is not packaging.SystemdUnit verbatim:\n%s", got)
				}
				if mem, err := os.ReadFile(filepath.Join(r.dir, "units", "openclawd.service.d", "50-memory.conf")); err != nil ||
					!strings.Contains(string(mem), "MemoryMax=") || !strings.Contains(string(mem), "MemoryHigh=") {
					t.Errorf("no memory drop-in beside the unit: %v\n%s", err, mem)
				}
				if line := "\nExecStart=" + e.realBin + " run --config " + e.cfg + "\n"; !strings.Contains(got, line) {
					t.Errorf("unit lacks %q (the symlink resolved)", line)
				}
				checkFile(t, e.cfg, 0o640, 0, 64990)
				// root's, read by the service through its group, which cannot change it
				checkFile(t, filepath.Join(e.dir, "etc", "gateway.env"), 0o640, 0, 64990)
				cfg, _ := os.ReadFile(e.cfg)
				if !bytes.Contains(cfg, []byte("env_file: "+filepath.Join(e.dir, "etc", "gateway.env")+"\n")) {
					t.Errorf("config's env_file is not beside it:\n%s", cfg)
				}
				if sd, _ := os.ReadFile(filepath.Join(r.dir, "statedir")); string(sd) != "64990 64990 700\n" {
					t.Errorf("state dir uid gid mode = %q; want 64990 64990 700", sd)
				}
			}},
		{name: "install creates the account the config's user key names",
			config: "user: ocsvc\ngateway:\n  env_file: %[1]s/etc/gateway.env\n",
			steps:  []func(env) []string{install}, wantRC: []int{0},
			calls: [][]string{{"groupadd --system ocsvc",
				"useradd --system --gid ocsvc --home-dir /var/lib/openclawd --no-create-home --shell /usr/sbin/nologin --comment openclawd (OpenClaw gateway) ocsvc",
				enable, reload, memReload}},
			wantOut: []string{"root:ocsvc 0640"},
			check: func(t *testing.T, e env, r nsResult) {
				checkFile(t, filepath.Join(e.dir, "etc", "gateway.env"), 0o640, 0, 64990)
				if sd, _ := os.ReadFile(filepath.Join(r.dir, "statedir")); string(sd) != "64990 64990 700\n" {
					t.Errorf("state dir uid gid mode = %q; want 64990 64990 700", sd)
				}
			}},
		{name: "install twice changes nothing the second time",
			steps: []func(env) []string{install, install}, wantRC: []int{0, 0},
			calls:   [][]string{{groupadd, useradd, enable, reload, memReload}, nil},
			wantOut: []string{"installed already (unchanged)"}},
		{name: "install replaces an outdated unit",
			seed:  "[Service]\nExecStart=/old/openclawd run\n",
			steps: []func(env) []string{install}, wantRC: []int{0},
			calls:   [][]string{{groupadd, useradd, enable, reload, memReload}},
			wantOut: []string{"updated /etc/systemd/system/openclawd.service"},
			check: func(t *testing.T, e env, r nsResult) {
				if got, _ := r.unit(t); got != packaging.SystemdUnit(e.realBin, e.cfg) {
					t.Errorf("unit not replaced:\n%s", got)
				}
			}},
		{name: "start, status, stop, status",
			steps:  []func(env) []string{install, verb("start"), verb("status"), verb("stop"), verb("status")},
			wantRC: []int{0, 0, 0, 0, ExitNotRunning},
			calls: [][]string{{groupadd, useradd, enable, reload, memReload}, {"systemctl start openclawd.service"},
				{"systemctl is-active openclawd.service"}, {"systemctl stop openclawd.service"},
				{"systemctl is-active openclawd.service", "systemctl list-unit-files -t service openclawd.service"}},
			wantOut: []string{"stopped (/etc/systemd/system/openclawd.service)"}},
		{name: "uninstall stops before disabling and keeps config and state",
			steps:  []func(env) []string{install, verb("start"), verb("uninstall")},
			wantRC: []int{0, 0, 0},
			calls: [][]string{{groupadd, useradd, enable, reload, memReload}, {"systemctl start openclawd.service"},
				{"systemctl stop openclawd.service", "systemctl disable openclawd.service", reload}},
			wantOut: []string{"stopped openclawd", "removed /etc/systemd/system/openclawd.service", "kept "},
			check: func(t *testing.T, e env, r nsResult) {
				if _, ok := r.unit(t); ok {
					t.Error("unit file still there")
				}
				checkFile(t, e.cfg, 0o640, 0, 64990)
				if _, err := os.Stat(filepath.Join(r.dir, "statedir")); err != nil {
					t.Error("state dir removed without --purge")
				}
			}},
		{name: "uninstall --purge removes config, env file and state dir",
			steps:  []func(env) []string{install, verb("uninstall", "--purge")},
			wantRC: []int{0, 0},
			// stop fails (not running): still tried first.
			calls:   [][]string{{groupadd, useradd, enable, reload, memReload}, {"systemctl stop openclawd.service", "systemctl disable openclawd.service", reload}},
			wantOut: []string{"removed /var/lib/openclawd"},
			check: func(t *testing.T, e env, r nsResult) {
				for _, p := range []string{e.cfg, filepath.Join(e.dir, "etc", "gateway.env"), filepath.Join(r.dir, "statedir")} {
					if _, err := os.Stat(p); err == nil {
						t.Errorf("%s survived --purge", p)
					}
				}
			}},
		{name: "refused without systemd running (kardianos would pick SysV)",
			nsEnv: []string{"NO_SYSTEMD=1"}, steps: []func(env) []string{install}, wantRC: []int{ExitFailure},
			calls: [][]string{nil}, wantOut: []string{"no systemd or launchd runs this host", "openclawd run --config"},
			check: func(t *testing.T, e env, r nsResult) {
				if _, err := os.Stat("/etc/init.d/openclawd"); err == nil {
					t.Error("/etc/init.d/openclawd written")
				}
			}},
		{name: "refused for a binary the unit would hide",
			nsEnv: []string{"OPENCLAWD_TEST_HIDDEN=/home:/tmp"}, steps: []func(env) []string{install}, wantRC: []int{ExitFailure},
			calls: [][]string{nil}, wantOut: []string{"which the unit hides from the service", "sudo install -m 0755 "}},
		{name: "refused for a binary the service user cannot reach",
			private: true, steps: []func(env) []string{install}, wantRC: []int{ExitFailure},
			calls: [][]string{nil}, wantOut: []string{"the openclawd user cannot reach", "is mode 0700", "sudo install -m 0755 "}},
		{name: "refused on a .deb install",
			nsEnv: []string{"DPKG=1"}, steps: []func(env) []string{install}, wantRC: []int{ExitFailure},
			calls: [][]string{nil}, wantOut: []string{"installed by the openclawd .deb", "sudo systemctl enable --now openclawd"}},
		{name: "refused on a Homebrew install",
			brew: true, steps: []func(env) []string{verb("status")}, wantRC: []int{ExitFailure},
			calls: [][]string{nil}, wantOut: []string{"installed by Homebrew", "brew services"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has its own namespace and files
			dir := t.TempDir()
			e := env{dir: dir, cfg: filepath.Join(dir, "etc", "openclawd.yaml"), realBin: filepath.Join(dir, "real", "openclawd")}
			if tt.brew {
				e.realBin = filepath.Join(dir, "Cellar", "openclawd", "1.0", "bin", "openclawd")
			}
			// The unit must name the real binary, not the link.
			link := filepath.Join(dir, "bin", "openclawd")
			os.MkdirAll(filepath.Dir(e.realBin), 0o755)
			os.MkdirAll(filepath.Dir(link), 0o755)
			os.WriteFile(e.realBin, nil, 0o755)
			// The service user must be able to reach the binary and config.
			os.Chmod(filepath.Dir(dir), 0o755)
			os.Chmod(dir, 0o755)
			if tt.private {
				os.Chmod(filepath.Dir(e.realBin), 0o700)
			}
			if err := os.Symlink(e.realBin, link); err != nil {
				t.Fatal(err)
			}
			if tt.config != "" {
				os.MkdirAll(filepath.Dir(e.cfg), 0o755)
				os.WriteFile(e.cfg, []byte(fmt.Sprintf(tt.config, dir)), 0o644)
			}
			if tt.seed != "" {
				os.WriteFile(filepath.Join(dir, "seed.service"), []byte(tt.seed), 0o644)
			}
			var steps [][]string
			for _, s := range tt.steps {
				steps = append(steps, s(e))
			}
			r := runInNamespace(t, dir, link, tt.nsEnv, steps...)
			for i := range steps {
				if r.rc[i] != tt.wantRC[i] {
					t.Errorf("step %d %v: rc %d; want %d\n%s", i, steps[i], r.rc[i], tt.wantRC[i], r.out[i])
				}
				var got []string
				if i < len(r.calls) {
					got = r.calls[i]
				}
				if !slices.Equal(got, tt.calls[i]) {
					t.Errorf("step %d %v: calls\n  %s\nwant\n  %s", i, steps[i], strings.Join(got, "\n  "), strings.Join(tt.calls[i], "\n  "))
				}
			}
			last := r.out[len(r.out)-1]
			for _, w := range tt.wantOut {
				if !strings.Contains(last, w) {
					t.Errorf("last output lacks %q:\n%s", w, last)
				}
			}
			if tt.check != nil {
				tt.check(t, e, r)
			}
		})
	}
}

func checkFile(t *testing.T, path string, mode os.FileMode, uid, gid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != mode || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: mode %04o uid %d gid %d; want %04o %d %d", path, fi.Mode().Perm(), st.Uid, st.Gid, mode, uid, gid)
	}
}
