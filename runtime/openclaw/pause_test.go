package openclaw

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/openclawd/openclawd/internal/json5"
)

func TestPauseResume(t *testing.T) {
	tests := []struct {
		name   string
		before string
		edit   func(root *json5.Value) // the owner's edit during the pause
		kept   []string
		after  string
	}{
		{"keys absent come back absent",
			`{gateway: {mode: "local"}}`, nil, nil, `{gateway: {mode: "local"}}`},
		{"values come back",
			`{agents: {defaults: {model: {primary: "openai/gpt-6"}, heartbeat: {every: "30m", lightContext: true}}}, cron: {enabled: true}}`,
			nil, nil,
			`{agents: {defaults: {model: {primary: "openai/gpt-6"}, heartbeat: {every: "30m", lightContext: true}}}, cron: {enabled: true}}`},
		{"an owner's change during the pause is kept",
			`{agents: {defaults: {model: {primary: "openai/gpt-6"}}}}`,
			func(root *json5.Value) {
				root.Set([]string{"agents", "defaults", "model", "primary"}, json5.NewString("anthropic/cheap"))
			},
			[]string{"agents.defaults.model"},
			`{agents: {defaults: {model: {primary: "anthropic/cheap", fallbacks: []}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "openclaw.json")
			if err := os.WriteFile(p, []byte(tt.before), 0o600); err != nil {
				t.Fatal(err)
			}
			saved, err := PauseModels(p)
			if err != nil {
				t.Fatal(err)
			}
			if paused, err := ModelsPaused(p); err != nil || !paused {
				t.Fatalf("after PauseModels: paused %v, %v", paused, err)
			}
			if again, err := PauseModels(p); err != nil || again != nil {
				t.Fatalf("a second pause saved %q (%v): it would lose the first's values", again, err)
			}
			if tt.edit != nil {
				root, _ := readGatewayConfig(p)
				tt.edit(root)
				if err := writeGatewayConfig(p, root); err != nil {
					t.Fatal(err)
				}
			}
			kept, err := ResumeModels(p, saved)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(kept, tt.kept) {
				t.Errorf("kept %v, want %v", kept, tt.kept)
			}
			got, _ := readGatewayConfig(p)
			want, err := json5.Parse([]byte(tt.after))
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range [][]string{{"agents", "defaults", "model"}, {"agents", "defaults", "heartbeat"}, {"cron"}, {"gateway"}} {
				g, gok := got.Get(path...)
				w, wok := want.Get(path...)
				if wok != gok || (wok && !json5.Equal(g, w)) {
					gb, _ := got.MarshalIndent()
					t.Fatalf("%v after resume:\n%s", path, gb)
				}
			}
		})
	}
}

func TestApplyCostSafe(t *testing.T) {
	p := filepath.Join(t.TempDir(), "openclaw.json")
	if err := os.WriteFile(p, []byte(`{agents: {defaults: {heartbeat: {every: "30m", target: "owner"}}}, gateway: {port: 1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	changed, err := ApplyCostSafe(p)
	if err != nil || len(changed) != len(CostSafe()) {
		t.Fatalf("changed %v, %v", changed, err)
	}
	root, _ := readGatewayConfig(p)
	for _, want := range [][]string{{"agents", "defaults", "heartbeat", "target"}, {"gateway", "port"}} {
		if _, ok := root.Get(want...); !ok {
			t.Errorf("the owner's %v is gone", want)
		}
	}
	if again, err := ApplyCostSafe(p); err != nil || again != nil {
		t.Fatalf("a second apply changed %v (%v)", again, err)
	}
}
