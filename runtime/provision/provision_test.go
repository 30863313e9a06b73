package provision

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
)

// fakeInstall makes a complete-looking, read-only runtime directory.
func fakeInstall(t *testing.T, root, name string) {
	t.Helper()
	dir := filepath.Join(root, name)
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "lib", "x.js"), []byte("x"), 0o444)
	os.WriteFile(filepath.Join(dir, marker), []byte("ok"), 0o444)
	os.Chmod(filepath.Join(dir, "lib"), 0o555)
	os.Chmod(dir, 0o555)
	// Before t.TempDir's own cleanup, which cannot remove a read-only
	// tree as an unprivileged user.
	t.Cleanup(func() { fsutil.RemoveAll(dir) })
}

func setCurrent(t *testing.T, root string, c Current) {
	b, _ := json.Marshal(c)
	if err := os.WriteFile(CurrentFile(root), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPrune(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"node-24.20.0-linux-x64", "node-24.21.0-linux-x64", "openclaw-2026.9.5", "openclaw-2026.9.6", "openclaw-2026.9.7"} {
		fakeInstall(t, root, n)
	}
	os.MkdirAll(filepath.Join(root, ".openclaw-2026.9.8.tmp-123", "x"), 0o755) // a killed install
	os.MkdirAll(filepath.Join(root, ".npm-cache", "x"), 0o700)
	setCurrent(t, root, Current{Node: "node-24.21.0-linux-x64", Openclaw: "openclaw-2026.9.7"})

	removed, err := Prune(context.Background(), root, "openclaw-2026.9.6") // the running gateway's
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range removed {
		names = append(names, e.Name)
	}
	slices.Sort(names)
	want := []string{".openclaw-2026.9.8.tmp-123", "node-24.20.0-linux-x64", "openclaw-2026.9.5"}
	if !slices.Equal(names, want) {
		t.Errorf("removed %v; want %v", names, want)
	}
	left, _ := List(root)
	var leftNames []string
	for _, e := range left {
		leftNames = append(leftNames, e.Name)
	}
	if !slices.Equal(leftNames, []string{"node-24.21.0-linux-x64", "openclaw-2026.9.6", "openclaw-2026.9.7"}) {
		t.Errorf("left %v", leftNames)
	}
	if _, err := os.Stat(filepath.Join(root, ".npm-cache")); err != nil {
		t.Error("npm cache pruned")
	}
}

func TestFailedUpgradeKeepsTheCurrentRuntime(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("no Node platform")
	}
	root := t.TempDir()
	p, _ := node.Platform()
	fakeInstall(t, root, "node-24.21.0-"+p)
	fakeInstall(t, root, "openclaw-2026.9.6")
	setCurrent(t, root, Current{Node: "node-24.21.0-" + p, Openclaw: "openclaw-2026.9.6"})
	o := Options{
		Root: root,
		// A version that is not installed, from a mirror that has nothing.
		Node:     node.Options{Root: root, Version: "24.22.0", SHA256: map[string]string{p: "00"}, Mirror: "file://" + t.TempDir()},
		Openclaw: openclaw.InstallOptions{Root: root, Version: "2026.9.6"},
	}
	rt, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatalf("Ensure = %v; want the current runtime with Fallback set", err)
	}
	if rt.Fallback == nil || filepath.Base(rt.Node.Dir) != "node-24.21.0-"+p {
		t.Errorf("runtime %+v; want node 24.21.0 with the download error in Fallback", rt)
	}
	// With nothing current, the same failure is an error.
	os.Remove(CurrentFile(root))
	if _, err := Ensure(context.Background(), o); err == nil {
		t.Error("Ensure succeeded with nothing to fall back to")
	}
}

// TestKeepCurrent: with a complete current runtime, KeepCurrent installs
// beside it (here: finds the wanted one installed) and never switches;
// with none, it switches as ever.
func TestKeepCurrent(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("no Node platform")
	}
	p, _ := node.Platform()
	tests := []struct {
		name    string
		current *Current
		want    Current
	}{
		{name: "a current runtime stays", current: &Current{Node: "node-24.21.0-" + p, Openclaw: "openclaw-2026.9.5"},
			want: Current{Node: "node-24.21.0-" + p, Openclaw: "openclaw-2026.9.5"}},
		{name: "a first install switches", want: Current{Node: "node-24.21.0-" + p, Openclaw: "openclaw-2026.9.6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, n := range []string{"node-24.21.0-" + p, "openclaw-2026.9.5", "openclaw-2026.9.6"} {
				fakeInstall(t, root, n)
			}
			if tt.current != nil {
				setCurrent(t, root, *tt.current)
			}
			rt, err := Ensure(context.Background(), Options{Root: root, KeepCurrent: true,
				Node:     node.Options{Root: root, Version: "24.21.0"},
				Openclaw: openclaw.InstallOptions{Root: root, Version: "2026.9.6"}})
			if err != nil || filepath.Base(rt.Openclaw.Dir) != "openclaw-2026.9.6" {
				t.Fatalf("Ensure = %+v, %v", rt, err)
			}
			if got, _ := ReadCurrent(root); got != tt.want {
				t.Errorf("current %+v; want %+v", got, tt.want)
			}
		})
	}
}
