package statedir

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openclawd/openclawd/internal/account"
)

func owner(t *testing.T, p string) (uid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid), fi.Mode()
}

func nobody(t *testing.T) account.Account {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	a, err := account.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	return a
}

func TestPrepareAsRootAdopts(t *testing.T) {
	a := nobody(t)
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.WriteFile(outside, []byte("root's"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "var", "state")
	// What an earlier root openclawd left: root-owned dirs and files, a
	// link, a hard link to a file outside, and one entry of another user.
	for _, d := range []string{"secrets", "runtime/node-1/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "secrets", "gateway-token"), []byte("t"), 0o600)
	os.WriteFile(filepath.Join(root, "runtime/node-1/bin/node"), []byte("n"), 0o555)
	os.Symlink(outside, filepath.Join(root, "secrets", "link"))
	os.Link(outside, filepath.Join(root, "hardlink"))
	os.WriteFile(filepath.Join(root, "other"), nil, 0o600)
	os.Chown(filepath.Join(root, "other"), 12345, 12345)

	if err := PrepareAsRoot(root, a); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077) // a root shell's strict umask
	err := PrepareAsRoot(filepath.Join(base, "fresh", "state"), a)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, mode := owner(t, filepath.Join(base, "fresh")); mode.Perm() != 0o755 {
		t.Errorf("a parent made under umask 077 is %v; want 0755 so the service user can pass", mode.Perm())
	}
	tests := []struct {
		name    string
		path    string
		wantUID int
	}{
		{"state dir", root, a.UID},
		{"root-owned dir", filepath.Join(root, "secrets"), a.UID},
		{"root-owned file", filepath.Join(root, "secrets", "gateway-token"), a.UID},
		{"deep runtime file", filepath.Join(root, "runtime/node-1/bin/node"), a.UID},
		{"link itself", filepath.Join(root, "secrets", "link"), a.UID},
		{"link target outside", outside, 0},
		{"hard-linked file stays", filepath.Join(root, "hardlink"), 0},
		{"another user's entry", filepath.Join(root, "other"), 12345},
		{"parent made by root", filepath.Join(base, "var"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if uid, _ := owner(t, tt.path); uid != tt.wantUID {
				t.Errorf("%s owned by %d; want %d", tt.path, uid, tt.wantUID)
			}
		})
	}
	if _, mode := owner(t, root); mode.Perm() != DirMode {
		t.Errorf("state dir mode %v; want %v", mode.Perm(), DirMode)
	}
}

func TestPrepareAsRootFollowsNoPlantedLink(t *testing.T) {
	a := nobody(t)
	base := t.TempDir()
	os.Chmod(base, 0o755)
	victim := filepath.Join(base, "victim")
	os.Mkdir(victim, 0o755)
	os.WriteFile(filepath.Join(victim, "f"), nil, 0o644)
	// The service user owns home/ and plants links there.
	home := filepath.Join(base, "home")
	os.Mkdir(home, 0o755)
	os.Chown(home, a.UID, a.GID)
	os.Symlink(victim, filepath.Join(home, "state"))
	os.Lchown(filepath.Join(home, "state"), a.UID, a.GID)
	os.Symlink(base, filepath.Join(home, "up"))
	os.Lchown(filepath.Join(home, "up"), a.UID, a.GID)

	tests := []struct{ name, root string }{
		{"state dir is a link", filepath.Join(home, "state")},
		{"a link on the way", filepath.Join(home, "up", "victim")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := PrepareAsRoot(tt.root, a)
			if err == nil || !strings.Contains(err.Error(), "link") {
				t.Fatalf("PrepareAsRoot(%s) = %v; want a refusal naming the link", tt.root, err)
			}
			for _, p := range []string{victim, filepath.Join(victim, "f")} {
				if uid, _ := owner(t, p); uid != 0 {
					t.Errorf("%s now belongs to %d", p, uid)
				}
			}
		})
	}
}

func TestEnsure(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(t *testing.T, l Layout)
		wantErr string
	}{
		{"fresh", func(*testing.T, Layout) {}, ""},
		{"wide modes tightened", func(t *testing.T, l Layout) {
			os.MkdirAll(l.Secrets(), 0o777)
			os.Chmod(l.Secrets(), 0o777)
		}, ""},
		{"symlinked secrets", func(t *testing.T, l Layout) {
			os.MkdirAll(l.Root, 0o700)
			os.Symlink(t.TempDir(), l.Secrets())
		}, "symlink"},
		{"someone else's logs", func(t *testing.T, l Layout) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to plant another user's dir")
			}
			os.MkdirAll(l.Logs(), 0o700)
			os.Chown(l.Logs(), 12345, 12345)
		}, "belongs to uid 12345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(filepath.Join(t.TempDir(), "state"))
			tt.plant(t, l)
			err := l.Ensure()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Ensure = %v; want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, rel := range dirs {
				if _, mode := owner(t, l.join(rel)); !mode.IsDir() || mode.Perm() != DirMode {
					t.Errorf("%s: mode %v; want a 0700 directory", rel, mode)
				}
			}
		})
	}
}

func TestCreateSecretAsRoot(t *testing.T) {
	a := nobody(t)
	tests := []struct {
		name        string
		plant       func(t *testing.T, root, outside string)
		wantCreated bool
		wantErr     string
	}{
		{"fresh", func(*testing.T, string, string) {}, true, ""},
		{"exists", func(t *testing.T, root, _ string) {
			os.Mkdir(filepath.Join(root, "secrets"), 0o700)
			os.WriteFile(filepath.Join(root, "secrets", "tok"), []byte("old"), 0o600)
		}, false, ""},
		{"secrets is a link", func(t *testing.T, root, outside string) {
			os.Symlink(outside, filepath.Join(root, "secrets"))
		}, false, "link"},
		{"token is a link", func(t *testing.T, root, outside string) {
			os.Mkdir(filepath.Join(root, "secrets"), 0o700)
			os.Symlink(filepath.Join(outside, "shadow"), filepath.Join(root, "secrets", "tok"))
		}, false, "symlink"},
		{"token readable by others", func(t *testing.T, root, _ string) {
			os.Mkdir(filepath.Join(root, "secrets"), 0o700)
			os.WriteFile(filepath.Join(root, "secrets", "tok"), []byte("old"), 0o644)
		}, false, "readable by others"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			os.Mkdir(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "shadow"), []byte("secret"), 0o640)
			root := filepath.Join(base, "state")
			os.Mkdir(root, 0o700)
			tt.plant(t, root, outside)
			created, err := CreateSecretAsRoot(root, "tok", a, func() ([]byte, error) { return []byte("new\n"), nil })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want one containing %q", err, tt.wantErr)
				}
			} else if err != nil || created != tt.wantCreated {
				t.Fatalf("created %v, err %v; want created %v", created, err, tt.wantCreated)
			}
			if uid, mode := owner(t, filepath.Join(outside, "shadow")); uid != 0 || mode.Perm() != 0o640 {
				t.Errorf("outside file changed: uid %d mode %v", uid, mode)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 1 {
				t.Errorf("something was created outside: %v", ents)
			}
			if tt.wantErr == "" {
				if uid, mode := owner(t, filepath.Join(root, "secrets", "tok")); uid != a.UID || mode.Perm() != 0o600 {
					t.Errorf("token uid %d mode %v; want %d 0600", uid, mode, a.UID)
				}
			}
		})
	}
}
