package provision

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/openclawd/openclawd/internal/treesnap"
)

// snapshot describes everything below dir (treesnap), failing t if it cannot.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	s, err := treesnap.Of(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// outsideRuntime is a complete-looking, read-only runtime outside root:
// following a link into it would remove its marker, chmod or delete it.
func outsideRuntime(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "elsewhere")
	fakeInstall(t, filepath.Dir(dir), filepath.Base(dir))
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
	})
	return dir
}

func TestPruneRemovesSymlinkedEntriesAsLinks(t *testing.T) {
	out := outsideRuntime(t)
	before := snapshot(t, out)
	root := t.TempDir()
	fakeInstall(t, root, "node-24.21.0-linux-x64")
	setCurrent(t, root, Current{Node: "node-24.21.0-linux-x64"})
	for _, n := range []string{"node-24.20.0-linux-x64", "openclaw-2026.9.5", ".openclaw-2026.9.6.tmp-1"} {
		if err := os.Symlink(out, filepath.Join(root, n)); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Complete && e.Name != "node-24.21.0-linux-x64" {
			t.Errorf("%s is a symlink, listed as complete", e.Name)
		}
	}
	removed, err := Prune(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 {
		t.Errorf("removed %v; want the three links", removed)
	}
	for _, n := range []string{"node-24.20.0-linux-x64", "openclaw-2026.9.5", ".openclaw-2026.9.6.tmp-1"} {
		if _, err := os.Lstat(filepath.Join(root, n)); err == nil {
			t.Errorf("%s still there", n)
		}
	}
	if after := snapshot(t, out); after != before {
		t.Errorf("outside changed:\n%s\nwas:\n%s", after, before)
	}
}

// swap flips dir/name between what is there and a symlink to target until
// stop is closed, as the service user could while root prunes; it counts
// the times the link was in place.
func swap(dir, name, target string, stop <-chan struct{}, wg *sync.WaitGroup) *int {
	n := new(int)
	wg.Add(1)
	go func() {
		defer wg.Done()
		p, aside := filepath.Join(dir, name), filepath.Join(dir, "_"+name+".aside")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if os.Rename(p, aside) == nil {
				if os.Symlink(target, p) == nil {
					*n++
					os.Remove(p)
				}
				os.Rename(aside, p)
			}
		}
	}()
	return n
}

// TestPruneRacedWithSymlinkSwaps races Prune against the runtime entry and
// a read-only directory inside it being swapped for symlinks to a
// complete-looking runtime outside root: whoever wins a round, nothing
// outside may change (contents, modes, owners).
func TestPruneRacedWithSymlinkSwaps(t *testing.T) {
	out := outsideRuntime(t)
	before := snapshot(t, out)
	swaps := 0
	for i := range 100 {
		root := t.TempDir()
		fakeInstall(t, root, "openclaw-2026.9.5") // not current: pruned
		fakeInstall(t, root, "openclaw-2026.9.6")
		setCurrent(t, root, Current{Openclaw: "openclaw-2026.9.6"})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		// One swapper a round: the inner one would otherwise rename
		// through the outer one's link, which only root (the test) could.
		var n *int
		if i%2 == 0 {
			n = swap(root, "openclaw-2026.9.5", out, stop, &wg)
		} else {
			n = swap(filepath.Join(root, "openclaw-2026.9.5"), "lib", filepath.Join(out, "lib"), stop, &wg)
		}
		_, err := Prune(context.Background(), root)
		close(stop)
		wg.Wait()
		swaps += *n
		if err != nil {
			t.Logf("round %d: %v", i, err) // losing to the swapper is allowed
		}
		if after := snapshot(t, out); after != before {
			t.Fatalf("round %d: outside changed:\n%s\nwas:\n%s", i, after, before)
		}
		ents, _ := List(root)
		if !slices.ContainsFunc(ents, func(e Entry) bool { return e.Name == "openclaw-2026.9.6" && e.Complete }) {
			t.Fatalf("round %d: the current runtime is gone: %v", i, ents)
		}
		filepath.WalkDir(root, func(p string, _ fs.DirEntry, _ error) error { os.Chmod(p, 0o755); return nil })
	}
	if swaps == 0 {
		t.Error("no symlink was ever in place; the race was not exercised")
	}
	t.Logf("%d swaps", swaps)
}
