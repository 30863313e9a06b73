package openclaw

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReadOnlySkipsPlantedSymlinks: a script running during npm ci may
// plant links to files outside the install; closing the tree must change
// the tree only, never a link's target.
func TestReadOnlySkipsPlantedSymlinks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "config.json")
	if err := os.WriteFile(secret, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(secret, 0o666) // past the umask
	tree := filepath.Join(t.TempDir(), "openclaw-2026.9.6")
	for _, d := range []string{"node_modules/openclaw", ".home/.npm", ".tmp"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]os.FileMode{"node_modules/openclaw/openclaw.mjs": 0o755, "package.json": 0o644}
	for f, m := range files {
		if err := os.WriteFile(filepath.Join(tree, f), []byte("x"), m); err != nil {
			t.Fatal(err)
		}
	}
	links := []string{"node_modules/openclaw/evil", "node_modules/dir-link", "planted"}
	for i, l := range links {
		target := secret
		if i == 1 {
			target = outside
		}
		if err := os.Symlink(target, filepath.Join(tree, l)); err != nil {
			t.Fatal(err)
		}
	}
	beforeDir, _ := os.Stat(outside)

	if err := readOnly(tree); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("outside file: %v, %v; want it still 0666", fi.Mode(), err)
	}
	if fi, err := os.Stat(outside); err != nil || fi.Mode() != beforeDir.Mode() {
		t.Errorf("outside dir: %v, %v; want %v", fi.Mode(), err, beforeDir.Mode())
	}
	if b, _ := os.ReadFile(secret); string(b) != "{}" {
		t.Errorf("outside file now holds %q", b)
	}
	want := map[string]os.FileMode{"": 0o555, "node_modules": 0o555, "node_modules/openclaw": 0o555,
		"node_modules/openclaw/openclaw.mjs": 0o555, "package.json": 0o444}
	for p, m := range want {
		fi, err := os.Lstat(filepath.Join(tree, p))
		if err != nil || fi.Mode().Perm() != m {
			t.Errorf("%q: %v, %v; want %v", p, fi.Mode().Perm(), err, m)
		}
	}
	for _, l := range links {
		if fi, err := os.Lstat(filepath.Join(tree, l)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%q: %v, %v; want the link kept as it was", l, fi.Mode(), err)
		}
	}
	for _, s := range []string{".home", ".tmp"} {
		if _, err := os.Lstat(filepath.Join(tree, s)); err == nil {
			t.Errorf("scratch %s still there", s)
		}
	}
	if st, ok := beforeDir.Sys().(*syscall.Stat_t); ok {
		fi, _ := os.Stat(outside)
		if st2 := fi.Sys().(*syscall.Stat_t); st2.Uid != st.Uid || st2.Gid != st.Gid {
			t.Errorf("outside dir owner changed to %d:%d", st2.Uid, st2.Gid)
		}
	}
	os.Chmod(tree, 0o755) // let t.TempDir clean up as an unprivileged user
	os.Chmod(filepath.Join(tree, "node_modules"), 0o755)
	os.Chmod(filepath.Join(tree, "node_modules", "openclaw"), 0o755)
}
