package service

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setHost replaces Host for one test.
func setHost(t *testing.T, change func(*Probes)) {
	t.Helper()
	saved := Host
	t.Cleanup(func() { Host = saved })
	change(&Host)
}

func TestBinaryResolvesLinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "openclawd")
	link := filepath.Join(dir, "openclawd")
	os.MkdirAll(filepath.Dir(real), 0o755)
	os.WriteFile(real, nil, 0o755)
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		exe     func() (string, error)
		want    string
		wantErr string
	}{
		{name: "a link names the real file", exe: func() (string, error) { return link, nil }, want: real},
		{name: "the real file itself", exe: func() (string, error) { return real, nil }, want: real},
		{name: "a dangling link", exe: func() (string, error) { return filepath.Join(dir, "gone"), nil }, wantErr: "finding the openclawd binary"},
		{name: "no executable path", exe: func() (string, error) { return "", errors.New("unsupported") }, wantErr: "finding the openclawd binary: unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setHost(t, func(h *Probes) { h.Exe = tt.exe })
			got, err := Binary()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Binary() = %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if want, _ := filepath.EvalSymlinks(tt.want); err != nil || got != want {
				t.Errorf("Binary() = %q, %v; want %q", got, err, want)
			}
		})
	}
}

func TestPackageOwner(t *testing.T) {
	dpkg := filepath.Join(t.TempDir(), "openclawd.list")
	os.WriteFile(dpkg, []byte("/usr/bin/openclawd\n"), 0o644)
	tests := []struct {
		name, bin, dpkgList, want string
	}{
		{"a tarball install", "/usr/local/bin/openclawd", "/nonexistent/openclawd.list", ""},
		{"the .deb", "/usr/bin/openclawd", dpkg, "installed by the openclawd .deb"},
		{"Homebrew", "/opt/homebrew/Cellar/openclawd/1.0/bin/openclawd", "/nonexistent/openclawd.list", "installed by Homebrew"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setHost(t, func(h *Probes) { h.DpkgList = tt.dpkgList })
			got := PackageOwner(tt.bin)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("PackageOwner(%s) = %q; want %q", tt.bin, got, tt.want)
			}
		})
	}
}

func TestCanReach(t *testing.T) {
	// A tree this test owns under a searchable parent.
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o755) // t.TempDir's are 0700
	os.Chmod(base, 0o755)
	mk := func(rel string, mode os.FileMode) string {
		d := filepath.Join(base, rel)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(d, "openclawd")
	}
	open, private, groupOnly := mk("open", 0o755), mk("private", 0o700), mk("group", 0o750)
	me, myGID := os.Getuid(), os.Getgid()
	const other = 1 << 30 // an id nothing here has
	tests := []struct {
		name     string
		path     string
		uid, gid int
		hidden   []string
		wantErr  string
	}{
		{name: "every directory searchable by all", path: open, uid: -1, gid: -1},
		{name: "a 0700 directory of another user", path: private, uid: other, gid: other, wantErr: "the openclawd user cannot reach " + private},
		{name: "a 0700 directory, user not created yet", path: private, uid: -1, gid: -1, wantErr: "is mode 0700"},
		{name: "a 0700 directory of the service user", path: private, uid: me, gid: other},
		{name: "a 0750 directory of the service user's group", path: groupOnly, uid: other, gid: myGID},
		{name: "a 0750 directory of another group", path: groupOnly, uid: other, gid: other, wantErr: "is mode 0750"},
		{name: "under a tree the unit hides", path: open, uid: -1, gid: -1, hidden: []string{base}, wantErr: "which the unit hides from the service"},
		{name: "a hidden tree's sibling with the same prefix", path: open, uid: -1, gid: -1, hidden: []string{base + "/ope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setHost(t, func(h *Probes) { h.Hidden = tt.hidden })
			err := CanReach(tt.path, tt.uid, tt.gid, "openclawd")
			if tt.wantErr == "" && err != nil {
				t.Errorf("CanReach(%s) = %v; want nil", tt.path, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("CanReach(%s) = %v; want an error with %q", tt.path, err, tt.wantErr)
			}
		})
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name, bin, wantErr string
	}{
		{name: "the packaged service file, verbatim", bin: "/usr/local/bin/openclawd"},
		{name: "template syntax in a path", bin: "/opt/{{Name}}/openclawd", wantErr: "{{"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := Render(tt.bin, "/etc/openclawd/openclawd.yaml", "/var/lib/openclawd")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v; want a refusal naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := serviceFile(tt.bin, "/etc/openclawd/openclawd.yaml", "/var/lib/openclawd"); u != want {
				t.Errorf("Render = %+v; want %+v", u, want)
			}
			if !strings.Contains(u.Text, tt.bin) {
				t.Errorf("the service file does not run %s:\n%s", tt.bin, u.Text)
			}
		})
	}
}
