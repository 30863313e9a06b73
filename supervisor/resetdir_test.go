package supervisor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
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

func TestTailLinesAreCleanedAndRedacted(t *testing.T) {
	tb := &tailBuffer{max: 4096}
	tb.Write([]byte("\x1b[31mfirst\x1b[0m\r\n\n"))
	tb.Write([]byte("dashboard http://127.0.0.1:18789/#token=s3cret\n\x1b[2Klast line\n"))
	got := tb.Lines(5, func(s string) string { return strings.ReplaceAll(s, "s3cret", "[redacted]") })
	want := []string{"first", "dashboard http://127.0.0.1:18789/#token=[redacted]", "last line"}
	if !slices.Equal(got, want) {
		t.Errorf("Lines = %q; want %q", got, want)
	}
	if got := tb.Lines(1, func(s string) string { return s }); !slices.Equal(got, []string{"last line"}) {
		t.Errorf("Lines(1) = %q", got)
	}
}
