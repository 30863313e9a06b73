package supervisor

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResetDirKeepsOnlyWhatItIsTold(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tmp")
	for _, p := range []string{"node-compile-cache/openclaw/x", "openclaw-state-locks-0/l", "plugin-build-1/big"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o600)
	}
	os.Chmod(dir, 0o755)
	if err := resetDir(dir, []string{"node-compile-cache"}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "node-compile-cache" {
		t.Errorf("left %v; want only node-compile-cache", ents)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v; want 0700", fi.Mode().Perm())
	}
}
