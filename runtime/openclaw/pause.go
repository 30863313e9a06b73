package openclaw

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/internal/json5"
)

// PausedModel is the model the soft pause points the default at: a
// provider that does not exist, so a turn fails at once with
// model_not_found and no request leaves the host (docs/spend.md §4).
const PausedModel = "openclawd-paused/paused"

// pauseKeys are the keys the soft pause sets, all existing OpenClaw keys,
// hot-reloaded by the gateway: the default model, the heartbeat and the
// cron scheduler (which also runs the heartbeat and dreaming).
var pauseKeys = []struct {
	path []string
	val  func() *json5.Value
}{
	{[]string{"agents", "defaults", "model"}, func() *json5.Value {
		m := json5.NewObject()
		m.Set([]string{"primary"}, json5.NewString(PausedModel))
		m.Set([]string{"fallbacks"}, json5.NewArray())
		return m
	}},
	{[]string{"agents", "defaults", "heartbeat", "every"}, func() *json5.Value { return json5.NewString("0m") }},
	{[]string{"cron", "enabled"}, func() *json5.Value { return json5.NewBool(false) }},
}

// PauseModels sets the pause's keys in the gateway config at path and
// returns what they were (a JSON object keyed by dotted path; a key that
// was absent is left out), for ResumeModels. Already paused, it returns
// nil and changes nothing.
func PauseModels(path string) (saved []byte, err error) {
	root, err := readGatewayConfig(path)
	if err != nil {
		return nil, err
	}
	if Paused(root) {
		return nil, nil
	}
	keep := json5.NewObject()
	for _, k := range pauseKeys {
		if v, ok := root.Get(k.path...); ok {
			keep.Set([]string{strings.Join(k.path, ".")}, v)
		}
		root.Set(k.path, k.val())
	}
	if saved, err = keep.MarshalIndent(); err != nil {
		return nil, err
	}
	return saved, writeGatewayConfig(path, root)
}

// ResumeModels puts back what PauseModels saved. A key whose value is no
// longer the pause's own was changed by the owner meanwhile: it is kept,
// and named in the result.
func ResumeModels(path string, saved []byte) (kept []string, err error) {
	root, err := readGatewayConfig(path)
	if err != nil {
		return nil, err
	}
	prev := json5.NewObject()
	if len(saved) > 0 {
		if prev, err = json5.Parse(saved); err != nil {
			return nil, fmt.Errorf("the saved pre-pause values: %w", err)
		}
	}
	for _, k := range pauseKeys {
		name := strings.Join(k.path, ".")
		cur, ok := root.Get(k.path...)
		if !ok || !json5.Equal(cur, k.val()) {
			kept = append(kept, name)
			continue
		}
		if v, ok := prev.Get(name); ok {
			root.Set(k.path, v)
		} else {
			root.Delete(k.path...)
			// and the parents the pause made, now empty
			for i := len(k.path) - 1; i > 0; i-- {
				if p, ok := root.Get(k.path[:i]...); ok && p.Kind() == json5.Object && len(p.Keys()) == 0 {
					root.Delete(k.path[:i]...)
				}
			}
		}
	}
	return kept, writeGatewayConfig(path, root)
}

// Paused says whether the config's default model is the pause's.
func Paused(root *json5.Value) bool {
	v, ok := root.Get("agents", "defaults", "model", "primary")
	if !ok {
		return false
	}
	s, _ := v.String()
	return s == PausedModel
}

// ModelsPaused reads the config at path and says whether it is paused.
func ModelsPaused(path string) (bool, error) {
	root, err := readGatewayConfig(path)
	if err != nil {
		return false, err
	}
	return Paused(root), nil
}

// readGatewayConfig parses openclaw.json; a file that doesn't parse is
// left alone, and the error names the line and the fix.
func readGatewayConfig(path string) (*json5.Value, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the gateway config: %w", err)
	}
	root, err := json5.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; openclawd leaves it alone: fix it, or restore %s.last-good", path, err, filepath.Base(path))
	}
	if root.Kind() != json5.Object {
		return nil, fmt.Errorf("%s: the top level is a %s, not an object", path, root.Kind())
	}
	return root, nil
}

// writeGatewayConfig writes openclaw.json atomically, 0600.
func writeGatewayConfig(path string, root *json5.Value) error {
	out, err := root.MarshalIndent()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := fsutil.WriteFileAtomic(path, out, 0o600); err != nil {
		return fmt.Errorf("writing the gateway config: %w", err)
	}
	return nil
}
