package openclaw

import (
	"fmt"
	"strings"
)

// SmallHostRAMMB is the RAM below which `openclawd setup` applies the
// small-host profile: the gateway's tree holds ~0.9 GB by default
// (docs/memory.md), more than half of such a host.
const SmallHostRAMMB = 2048

// IsSmallHost reports whether a host of ramMB gets the small-host profile.
// An unknown RAM (≤0) does not.
func IsSmallHost(ramMB int64) bool { return ramMB > 0 && ramMB < SmallHostRAMMB }

// SmallHost is the config part of the small-host profile: openclaw.json
// keys that measurably shrank the gateway's tree. In 2026.9.6 there are
// none: unloading 8 of the 14 default plugins (plugins.entries.<id>.enabled
// false), the memory slot, browser, skills workshop and catalog refresh
// each left the tree within noise of the default, and the two node
// children have no switch (docs/memory.md §2). The list stays so that a
// key found later goes through setup like the cost-safe ones.
func SmallHost() []CostSafeKey { return nil }

// ApplySmallHost sets the profile's keys in the gateway config at path,
// creating the file if needed, and returns the keys it changed. Other
// keys are kept as they are.
func ApplySmallHost(path string) (changed []string, err error) {
	changed, err = applyKeys(path, SmallHost())
	if err != nil {
		return nil, fmt.Errorf("small-host profile: %w", err)
	}
	return changed, nil
}

// ShowSmallHost is the profile as setup prints it before applying it: the
// config keys, then what the launcher adds on a small host.
func ShowSmallHost() string {
	var b strings.Builder
	for _, k := range SmallHost() {
		v, _ := k.Value.MarshalIndent()
		fmt.Fprintf(&b, "  %s = %s  (%s)\n", k.Name(), strings.TrimSpace(string(v)), k.Why)
	}
	ram := int64(SmallHostRAMMB - 1)
	for _, e := range SmallHostEnv(ram) {
		fmt.Fprintf(&b, "  env %s  (set by openclawd on hosts under %d MB)\n", e, SmallHostRAMMB)
	}
	for _, f := range SmallHostNodeFlags(ram) {
		fmt.Fprintf(&b, "  node %s  (set by openclawd on hosts under %d MB)\n", f, SmallHostRAMMB)
	}
	return b.String()
}

// SmallHostEnv is what the launcher adds to the gateway's environment on
// a small host; nil elsewhere. The environment, unlike node's argv, reaches
// the gateway's node children (spawn broker, SQLite worker) too.
func SmallHostEnv(ramMB int64) []string {
	if !IsSmallHost(ramMB) {
		return nil
	}
	return []string{
		// glibc makes up to 8×cores malloc arenas; Node's threads each
		// grow one, and their freed pages stay resident.
		"MALLOC_ARENA_MAX=2",
	}
}

// SmallHostNodeFlags are node flags the launcher puts before the script on
// a small host, after --max-old-space-size; nil elsewhere.
func SmallHostNodeFlags(ramMB int64) []string {
	if !IsSmallHost(ramMB) {
		return nil
	}
	return nil
}
