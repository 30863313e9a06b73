package openclaw

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openclawd/openclawd/internal/json5"
)

func TestApplySmallHost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing string // "" = no file
	}{
		{"no config yet", ""},
		{"owner's config", `{plugins: {entries: {browser: {enabled: true}}}, gateway: {port: 1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "openclaw.json")
			if tc.existing != "" {
				if err := os.WriteFile(p, []byte(tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			changed, err := ApplySmallHost(p)
			if err != nil || len(changed) != len(SmallHost()) {
				t.Fatalf("changed %v, %v; want %d keys", changed, err, len(SmallHost()))
			}
			if len(SmallHost()) > 0 {
				root, err := readGatewayConfig(p)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range SmallHost() {
					if v, ok := root.Get(k.Path...); !ok || !json5.Equal(v, k.Value) {
						t.Errorf("%s not set", k.Name())
					}
				}
			}
			if again, err := ApplySmallHost(p); err != nil || again != nil {
				t.Fatalf("a second apply changed %v (%v)", again, err)
			}
		})
	}
}

func TestSmallHostLaunch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ramMB int64
		small bool
	}{
		{"1 GB VPS", 1024, true},
		{"just under 2 GB", 1950, true},
		{"2 GB", 2048, false},
		{"8 GB", 8192, false},
		{"unknown RAM", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsSmallHost(tc.ramMB); got != tc.small {
				t.Fatalf("IsSmallHost(%d) = %v", tc.ramMB, got)
			}
			env := SmallHostEnv(tc.ramMB)
			if !tc.small && (env != nil || SmallHostNodeFlags(tc.ramMB) != nil) {
				t.Errorf("a %d MB host gets %v %v", tc.ramMB, env, SmallHostNodeFlags(tc.ramMB))
			}
			for _, kv := range env {
				// NODE_OPTIONS is the launcher's to set, never the profile's:
				// config reserves it (it can load code).
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "NODE_OPTIONS" {
					t.Errorf("bad env entry %q", kv)
				}
			}
			for _, f := range SmallHostNodeFlags(tc.ramMB) {
				if !strings.HasPrefix(f, "--") || strings.HasPrefix(f, "--max-old-space-size") {
					t.Errorf("bad node flag %q (the heap is HeapMB's)", f)
				}
			}
		})
	}
}

func TestShowSmallHost(t *testing.T) {
	out := ShowSmallHost()
	for _, k := range SmallHost() {
		if !strings.Contains(out, k.Name()) {
			t.Errorf("ShowSmallHost lacks %s:\n%s", k.Name(), out)
		}
	}
}
