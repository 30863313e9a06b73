package e2e

// The trust boundary: the service user (nobody here) owns the state dir
// and may plant anything in it; openclawd run as root must follow none of
// it, run nothing of it as root, and hand no root-only file out as a token.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/pins"
)

// processUID is pid's real uid, from /proc.
func processUID(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading pid %d's status: %v", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			var uid int
			fmt.Sscan(f[1], &uid)
			return uid
		}
	}
	t.Fatalf("no Uid line for pid %d", pid)
	return -1
}

func needRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Skip("the trust boundary is about what root does")
	}
}

// TestRootRunDropsToServiceUser: `sudo openclawd run` runs neither the
// daemon nor the gateway as root; user: root runs both as root, and says so.
func TestRootRunDropsToServiceUser(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name    string
		user    string
		wantUID int
		wantLog string
	}{
		{"service user", serviceUser, serviceIDs.uid, ""},
		{"root when asked for", "root", 0, "run as root (user: root)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInstance(t, opts{asRoot: true, user: tt.user})
			st := in.waitHealthy()
			for what, pid := range map[string]int{"openclawd": st.PID, "gateway": st.Gateway.PID} {
				if uid := processUID(t, pid); uid != tt.wantUID {
					t.Errorf("%s (pid %d) runs as uid %d; want %d", what, pid, uid, tt.wantUID)
				}
			}
			if tt.wantLog != "" && !strings.Contains(in.stderr.String(), tt.wantLog) {
				t.Errorf("stderr does not warn %q:\n%s", tt.wantLog, in.stderr.String())
			}
		})
	}
}

// plantedState is a state dir as the service user could leave it: every
// entry nobody's, the root-only secret outside.
type plantedState struct {
	dir, state, outside, secret string
}

const rootSecret = "root-only-secret-0123456789abcdef0123456789"

func newPlanted(t *testing.T) *plantedState {
	needRoot(t)
	in := newInstance(t, opts{noStart: true})
	p := &plantedState{dir: in.dir, state: filepath.Join(in.dir, "state"), outside: t.TempDir()}
	p.secret = filepath.Join(p.outside, "shadow")
	if err := os.WriteFile(p.secret, []byte(rootSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"", "runtime", "logs", "home", "openclaw"} {
		p.mkdir(t, d)
	}
	return p
}

func (p *plantedState) mkdir(t *testing.T, rel string) {
	d := filepath.Join(p.state, rel)
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	p.own(t, rel)
}

// own hands rel to the service user, as if it had made it.
func (p *plantedState) own(t *testing.T, rel string) {
	if err := os.Lchown(filepath.Join(p.state, rel), serviceIDs.uid, serviceIDs.gid); err != nil {
		t.Fatal(err)
	}
}

func (p *plantedState) link(t *testing.T, rel, target string) {
	if err := os.Symlink(target, filepath.Join(p.state, rel)); err != nil {
		t.Fatal(err)
	}
	p.own(t, rel)
}

func (p *plantedState) write(t *testing.T, rel, content string, mode os.FileMode) {
	if err := os.WriteFile(filepath.Join(p.state, rel), []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	p.own(t, rel)
}

// checkOutside: the root-only file is as it was: content, mode, owner.
func (p *plantedState) checkOutside(t *testing.T, out string) {
	t.Helper()
	fi, err := os.Lstat(p.secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p.secret)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || fi.Mode().Perm() != 0o600 || string(b) != rootSecret+"\n" {
		t.Errorf("the root-only file changed: uid %d mode %v content %q", st.Uid, fi.Mode().Perm(), b)
	}
	if strings.Contains(out, rootSecret) || strings.Contains(out, rootSecret[:20]) {
		t.Errorf("the root-only secret reached the output:\n%s", out)
	}
	filepath.Walk(p.state, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Sys().(*syscall.Stat_t).Uid == 0 {
			t.Errorf("%s is root's after the command: root wrote into the service user's tree", path)
		}
		return nil
	})
}

// fakeRuntime plants a runtime whose "node" records who ran it and with
// which token, as the service user could after taking over the gateway.
func (p *plantedState) fakeRuntime(t *testing.T, current string) string {
	platform, _ := node.Platform()
	nodeDir := "node-" + pins.NodeVersion + "-" + platform
	ocDir := "openclaw-" + pins.OpenclawVersion
	record := filepath.Join(p.dir, "ran")
	for _, d := range []string{nodeDir, nodeDir + "/bin", ocDir, ocDir + "/node_modules", ocDir + "/node_modules/openclaw"} {
		p.mkdir(t, "runtime/"+d)
	}
	p.write(t, "runtime/"+nodeDir+"/bin/node", fmt.Sprintf("#!/bin/sh\necho \"uid=$(id -u) token=$OPENCLAW_GATEWAY_TOKEN args=$*\" >> %s\n", record), 0o755)
	p.write(t, "runtime/"+ocDir+"/node_modules/openclaw/openclaw.mjs", "", 0o644)
	p.write(t, "runtime/"+nodeDir+"/.openclawd-installed", "", 0o444)
	p.write(t, "runtime/"+ocDir+"/.openclawd-installed", "", 0o444)
	if current != "" {
		p.write(t, "runtime/current.json", current, 0o644)
	}
	return record
}

func TestRootCommandsFollowNothingPlanted(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, p *plantedState)
		args  []string
		// check looks at the command's output and the host after it.
		check func(t *testing.T, p *plantedState, out string, rc int)
	}{
		{"token through a symlinked secrets dir", func(t *testing.T, p *plantedState) {
			p.link(t, "secrets", p.outside)
			os.Rename(p.secret, filepath.Join(p.outside, "gateway-token"))
			p.secret = filepath.Join(p.outside, "gateway-token")
		}, []string{"token"}, func(t *testing.T, p *plantedState, out string, rc int) {
			if rc == 0 {
				t.Errorf("token printed something from a symlinked secrets dir (rc 0): %s", out)
			}
		}},
		{"token file a symlink to a root-only file", func(t *testing.T, p *plantedState) {
			p.mkdir(t, "secrets")
			p.link(t, "secrets/gateway-token", p.secret)
		}, []string{"token"}, func(t *testing.T, p *plantedState, out string, rc int) {
			if rc == 0 || !strings.Contains(out, "symlink") {
				t.Errorf("rc %d, output %q; want a refusal naming the symlink", rc, out)
			}
		}},
		{"logs through a symlinked log file", func(t *testing.T, p *plantedState) {
			p.link(t, "logs/openclawd.log", p.secret)
		}, []string{"logs", "-n", "5"}, func(*testing.T, *plantedState, string, int) {}},
		{"runtime lock a symlink to a root file", func(t *testing.T, p *plantedState) {
			p.link(t, "runtime/.lock", p.secret)
		}, []string{"runtime", "prune"}, func(*testing.T, *plantedState, string, int) {}},
		{"openclaw runs the planted node as the service user only", func(t *testing.T, p *plantedState) {
			p.fakeRuntime(t, "")
			p.mkdir(t, "secrets")
			p.link(t, "secrets/gateway-token", p.secret)
		}, []string{"openclaw", "devices", "list"}, func(t *testing.T, p *plantedState, out string, rc int) {
			if b, err := os.ReadFile(filepath.Join(p.dir, "ran")); err == nil {
				t.Errorf("the planted node ran with a symlinked token: %s", b)
			}
		}},
		{"openclaw with current.json leaving the runtime dir", func(t *testing.T, p *plantedState) {
			p.fakeRuntime(t, `{"node":"../../../../../bin","openclaw":"../.."}`)
			p.mkdir(t, "secrets")
			p.write(t, "secrets/gateway-token", strings.Repeat("a", 64)+"\n", 0o600)
		}, []string{"openclaw", "--version"}, func(t *testing.T, p *plantedState, out string, rc int) {
			b, err := os.ReadFile(filepath.Join(p.dir, "ran"))
			if err != nil {
				t.Fatalf("the pinned runtime did not run: rc %d %s", rc, out)
			}
			if want := fmt.Sprintf("uid=%d token=%s args=", serviceIDs.uid, strings.Repeat("a", 64)); !strings.HasPrefix(string(b), want) {
				t.Errorf("node ran as %q; want it as the service user with the state's token (%q)", b, want)
			}
		}},
		{"setup hands no outside dir over", func(t *testing.T, p *plantedState) {
			p.link(t, "secrets", p.outside)
		}, []string{"setup", "--non-interactive", "--no-start"}, func(t *testing.T, p *plantedState, out string, rc int) {
			if fi, _ := os.Stat(p.outside); fi.Sys().(*syscall.Stat_t).Uid != 0 {
				t.Errorf("setup handed %s to the service user", p.outside)
			}
			if _, err := os.Stat(filepath.Join(p.outside, "gateway-token")); err == nil {
				t.Errorf("setup wrote a token outside the state dir")
			}
		}},
		{"migrate-legacy leaves nothing root's", func(t *testing.T, p *plantedState) {
			p.mkdir(t, "home/.clawdbot")
			p.write(t, "home/.clawdbot/clawdbot.json", `{"gateway":{"mode":"local"}}`, 0o600)
		}, []string{"migrate-legacy"}, func(t *testing.T, p *plantedState, out string, rc int) {
			if rc != 0 {
				t.Errorf("migrate-legacy: rc %d: %s", rc, out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlanted(t)
			tt.plant(t, p)
			args := append(append([]string{}, tt.args...), "--config", filepath.Join(p.dir, "openclawd.yaml"))
			if tt.args[0] == "openclaw" {
				args = append([]string{"openclaw", "--config", filepath.Join(p.dir, "openclawd.yaml")}, tt.args[1:]...)
			}
			in := &instance{t: t}
			out, rc := in.cli(args...)
			tt.check(t, p, out, rc)
			p.checkOutside(t, out)
		})
	}
}
