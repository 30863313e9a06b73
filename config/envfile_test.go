package config

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	svcUID = 65534 // nobody: a real other user, standing in for the service user
	svcGID = 65534
)

// TestReadEnvFileOwned checks each rule on real files. wantErr parts must
// all appear; fixWorks runs the command the error gives and reads again.
func TestReadEnvFileOwned(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown files to another user")
	}
	file := func(mode os.FileMode, uid, gid int) func(t *testing.T, p string) {
		return func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("ANTHROPIC_API_KEY=sk-ant-0123456789\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	grp := gidName(svcGID)
	tests := []struct {
		name     string
		setup    func(t *testing.T, p string)
		uid, gid int // the service user's, as the daemon passes them
		wantErr  []string
		fixWorks bool
	}{
		{name: "root 0600", setup: file(0o600, 0, 0), uid: -1, gid: -1},
		{name: "root 0400", setup: file(0o400, 0, 0), uid: svcUID, gid: svcGID},
		{name: "service user 0600", setup: file(0o600, svcUID, svcGID), uid: svcUID, gid: svcGID},
		{name: "root with service group 0640", setup: file(0o640, 0, svcGID), uid: svcUID, gid: svcGID},
		{name: "root with service group 0440", setup: file(0o440, 0, svcGID), uid: svcUID, gid: svcGID},
		{name: "group readable, service group unknown", setup: file(0o640, 0, svcGID), uid: -1, gid: -1,
			wantErr: []string{"is mode 0640 with group " + grp, "it holds secrets: run chmod 600 "}, fixWorks: true},
		{name: "group readable by another group", setup: file(0o640, 0, 0), uid: svcUID, gid: svcGID,
			wantErr: []string{"with group root", "run chown root:" + grp + " ", "&& chmod 640 "}, fixWorks: true},
		{name: "service user's file readable by its group", setup: file(0o640, svcUID, svcGID), uid: svcUID, gid: svcGID,
			wantErr: []string{"is mode 0640", "run chmod 600 "}, fixWorks: true},
		{name: "world readable", setup: file(0o644, 0, 0), uid: svcUID, gid: svcGID,
			wantErr: []string{"is mode 0644, readable by others; it holds secrets: run chown root:" + grp}, fixWorks: true},
		{name: "group writable", setup: file(0o620, 0, svcGID), uid: svcUID, gid: svcGID,
			wantErr: []string{"is mode 0620, writable by group " + grp, "sets the gateway's environment"}, fixWorks: true},
		{name: "world writable", setup: file(0o602, svcUID, svcGID), uid: svcUID, gid: svcGID,
			wantErr: []string{"is mode 0602, writable by others", "run chmod 600 "}, fixWorks: true},
		{name: "executable", setup: file(0o700, 0, 0), uid: -1, gid: -1,
			wantErr: []string{"is mode 0700; use 0600", "run chmod 600 "}, fixWorks: true},
		{name: "owned by another user, service user unknown", setup: file(0o600, svcUID, svcGID), uid: -1, gid: -1,
			wantErr: []string{"is owned by nobody (uid 65534), not root or the service user", "run chown root "}, fixWorks: true},
		{name: "owned by another user than the service user", setup: file(0o600, 65533, 65533), uid: svcUID, gid: svcGID,
			wantErr: []string{"is owned by uid 65533", "run chown root:" + grp}, fixWorks: true},
		{name: "symlink to a good file", uid: -1, gid: -1, setup: func(t *testing.T, p string) {
			file(0o600, 0, 0)(t, p+".real")
			if err := os.Symlink(p+".real", p); err != nil {
				t.Fatal(err)
			}
		}, wantErr: []string{"is a symbolic link, which openclawd does not follow", "cp --remove-destination"}, fixWorks: true},
		{name: "FIFO", uid: -1, gid: -1, setup: func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantErr: []string{"is a named pipe (FIFO), not a regular file"}},
		{name: "directory", uid: -1, gid: -1, setup: func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, wantErr: []string{"is a directory, not a regular file"}},
		{name: "over the size cap", uid: -1, gid: -1, setup: func(t *testing.T, p string) {
			big := strings.Repeat("# padding padding padding padding\n", MaxEnvFileBytes/34+1)
			if err := os.WriteFile(p, []byte(big), 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantErr: []string{"is over 1 MiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "gateway.env")
			tt.setup(t, p)
			env, err := readWithin(t, p, tt.uid, tt.gid)
			if len(tt.wantErr) == 0 {
				if err != nil || env["ANTHROPIC_API_KEY"] != "sk-ant-0123456789" {
					t.Fatalf("= %v, %v; want the key", env, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("read %v; want an error with %q", env, tt.wantErr)
			}
			for _, w := range append(tt.wantErr, "env file "+p) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !tt.fixWorks {
				return
			}
			_, fix, ok := strings.Cut(err.Error(), ": run ")
			if !ok {
				_, fix, _ = strings.Cut(err.Error(), "e.g. ")
				fix, _, _ = strings.Cut(fix, ", then")
			}
			fix, _, _ = strings.Cut(fix, ": ") // drop a wrapped cause
			if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
				t.Fatalf("fix %q: %v\n%s", fix, err, out)
			}
			if _, err := readWithin(t, p, tt.uid, tt.gid); err != nil {
				t.Errorf("after the fix %q: %v", fix, err)
			}
		})
	}
}

// readWithin reads with a deadline: a FIFO must be refused, never waited on.
func readWithin(t *testing.T, p string, uid, gid int) (map[string]string, error) {
	t.Helper()
	type result struct {
		env map[string]string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		env, err := ReadEnvFileOwned(p, uid, gid)
		ch <- result{env, err}
	}()
	select {
	case r := <-ch:
		return r.env, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("ReadEnvFileOwned(%s) blocked", p)
		return nil, nil
	}
}

func TestReadEnvFileMissing(t *testing.T) {
	_, err := ReadEnvFile(filepath.Join(t.TempDir(), "nope.env"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v; want one that wraps os.ErrNotExist (setup creates the file then)", err)
	}
}

// TestEnvFileReservedNames: names that would load code into the gateway or
// move its config out of openclawd's hands are refused at their line.
func TestEnvFileReservedNames(t *testing.T) {
	tests := []struct {
		name, key, why string
	}{
		{"config path", "OPENCLAW_CONFIG_PATH", "keeps its own keys there"},
		{"openclaw home", "OPENCLAW_HOME", "where the gateway keeps its state"},
		{"state dir", "OPENCLAW_STATE_DIR", "where the gateway keeps its state"},
		{"include roots", "OPENCLAW_INCLUDE_ROOTS", "widens which files"},
		{"node options", "NODE_OPTIONS", "load any code into the gateway"},
		{"node path", "NODE_PATH", "where the gateway loads modules from"},
		{"path", "PATH", "pinned Node first"},
		{"home", "HOME", "its own (<state_dir>/home)"},
		{"bash env", "BASH_ENV", "every shell"},
		{"ld preload", "LD_PRELOAD", "loads a library"},
		{"ld library path", "LD_LIBRARY_PATH", "which libraries"},
		{"ld audit", "LD_AUDIT", "loads a library"},
		{"any LD_ name", "LD_BIND_NOW", "the dynamic loader reads it"},
		{"dyld insert", "DYLD_INSERT_LIBRARIES", "loads a library"},
		{"any DYLD_ name", "DYLD_FRAMEWORK_PATH", "the dynamic loader reads it"},
		{"existing entry", "OPENCLAW_SUPERVISOR_MODE", "openclawd owns every restart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "gateway.env")
			if err := os.WriteFile(p, []byte("# keys\nOPENAI_API_KEY=sk-1\n"+tt.key+"=/tmp/evil\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadEnvFile(p)
			want := p + ":3: " + tt.key + " is set by openclawd only: "
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("err = %v; want %q with %q", err, want, tt.why)
			}
			if strings.Contains(err.Error(), "/tmp/evil") {
				t.Errorf("error repeats the value: %v", err)
			}
		})
	}
	t.Run("token allowed", func(t *testing.T) {
		env, err := ParseEnv("gateway.env", []byte("OPENCLAW_GATEWAY_TOKEN=0123456789abcdef\n"))
		if err != nil || env["OPENCLAW_GATEWAY_TOKEN"] != "0123456789abcdef" {
			t.Errorf("= %v, %v", env, err)
		}
	})
}

// TestGatewayEnvReserved: the same names are refused in gateway.env in the
// YAML, which reads reservedEnv too.
func TestGatewayEnvReserved(t *testing.T) {
	for _, k := range []string{"OPENCLAW_CONFIG_PATH", "NODE_OPTIONS", "LD_PRELOAD", "PATH"} {
		t.Run(k, func(t *testing.T) {
			c := Default()
			c.Gateway.Env = map[string]string{k: "x"}
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "gateway.env."+k) {
				t.Errorf("Validate = %v; want gateway.env.%s refused", err, k)
			}
		})
	}
}
