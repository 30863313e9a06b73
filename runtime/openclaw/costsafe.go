package openclaw

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/openclawd/openclawd/internal/json5"
)

// CostSafeKey is one key of the cost-safe profile: an existing OpenClaw
// key, verified against 2026.9.6's strict schema (docs/spend.md §5).
type CostSafeKey struct {
	Path  []string
	Value *json5.Value
	Why   string
}

// Name is the key's dotted path.
func (k CostSafeKey) Name() string { return strings.Join(k.Path, ".") }

// CostSafe is the profile `openclawd setup` offers: what the pinned
// OpenClaw has to keep an idle bot's model spend near zero.
func CostSafe() []CostSafeKey {
	s, b := json5.NewString, json5.NewBool
	return []CostSafeKey{
		{[]string{"agents", "defaults", "heartbeat", "every"}, s("2h"), "a heartbeat is a model turn; the default is every 30m, 48 turns a day"},
		{[]string{"agents", "defaults", "heartbeat", "lightContext"}, b(true), "heartbeats without the full session context"},
		{[]string{"agents", "defaults", "heartbeat", "isolatedSession"}, b(true), "heartbeats in a session of their own, which stays small"},
		{[]string{"plugins", "entries", "memory-core", "config", "dreaming", "enabled"}, b(false), "no daily 03:00 \"dreaming\" model job"},
		{[]string{"skills", "workshop", "autonomous", "mode"}, s("off"), "no per-turn skill capture and weekly review"},
		{[]string{"models", "catalogRefresh", "enabled"}, b(false), "no model-catalog refresh traffic"},
	}
}

// ApplyCostSafe sets the profile's keys in the gateway config at path,
// creating the file if needed, and returns the keys it changed. Other
// keys are kept as they are.
func ApplyCostSafe(path string) (changed []string, err error) {
	return applyKeys(path, CostSafe())
}

// applyKeys sets keys in the gateway config at path (created if missing)
// in one atomic write, and returns the names of those it changed.
func applyKeys(path string, keys []CostSafeKey) (changed []string, err error) {
	root, err := readGatewayConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		root, err = json5.NewObject(), nil
	}
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if cur, ok := root.Get(k.Path...); ok && json5.Equal(cur, k.Value) {
			continue
		}
		root.Set(k.Path, k.Value)
		changed = append(changed, k.Name())
	}
	if len(changed) == 0 {
		return nil, nil
	}
	if err := writeGatewayConfig(path, root); err != nil {
		return nil, err
	}
	return changed, nil
}

// ShowCostSafe is the profile as setup prints it before applying it.
func ShowCostSafe() string {
	var b strings.Builder
	for _, k := range CostSafe() {
		v, _ := k.Value.MarshalIndent()
		fmt.Fprintf(&b, "  %s = %s  (%s)\n", k.Name(), strings.TrimSpace(string(v)), k.Why)
	}
	return b.String()
}
