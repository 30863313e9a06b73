package openclaw

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindAndMigrateLegacy(t *testing.T) {
	home := t.TempDir()
	state := filepath.Join(t.TempDir(), "openclaw")
	legacy := filepath.Join(home, ".clawdbot")
	files := map[string]string{
		"clawdbot.json":            `{gateway:{mode:"local"}}`,
		"agents/main/sessions.db":  "sqlite-bytes",
		"credentials/telegram.key": "secret",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(legacy, filepath.Dir(p)), 0o700)
		os.WriteFile(filepath.Join(legacy, p), []byte(c), 0o600)
	}
	os.MkdirAll(state, 0o700)
	os.WriteFile(filepath.Join(state, "openclaw.json"), []byte(`{gateway:{port:1}}`), 0o600)

	found := FindLegacy(state, home)
	if len(found) != 1 || found[0].Path != legacy || found[0].Kind != "dir" {
		t.Fatalf("FindLegacy = %+v; want the .clawdbot dir", found)
	}
	backup, err := Migrate(legacy, state)
	if err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		dst := filepath.Join(state, p)
		if p == "clawdbot.json" {
			dst = filepath.Join(state, "openclaw.json")
		}
		b, err := os.ReadFile(dst)
		if err != nil || string(b) != c {
			t.Errorf("%s: %q, %v; want %q", dst, b, err, c)
		}
		if _, err := os.Stat(filepath.Join(legacy, p)); err != nil {
			t.Errorf("source %s was touched: %v", p, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(backup, "openclaw.json")); err != nil || !strings.Contains(string(b), "port:1") {
		t.Errorf("previous state not kept at %s: %v", backup, err)
	}
	if again := FindLegacy(state, home); len(again) != 0 {
		t.Errorf("a migrated source is still reported: %+v", again)
	}
}

func TestMigrateRefusesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "clawdbot.json")
	os.WriteFile(f, []byte("{}"), 0o600)
	if _, err := Migrate(f, filepath.Join(t.TempDir(), "s")); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("err = %v", err)
	}
}
