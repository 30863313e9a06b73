package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/openclawd/openclawd/internal/treesnap"
)

func itoa(i int) string { return strconv.Itoa(i) }

// snapshot describes everything below dir (treesnap), failing t if it cannot.
func snapshot(t testing.TB, dir string) string {
	t.Helper()
	s, err := treesnap.Of(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// outsideTree makes a directory that must never change: a read-only dir
// holding a read-only file, which a followed chmod or removal would alter.
func outsideTree(t *testing.T) (dir, file string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "outside")
	must(t, os.Mkdir(dir, 0o755))
	file = filepath.Join(dir, "secret")
	must(t, os.WriteFile(file, []byte("do not touch"), 0o400))
	must(t, os.Chmod(dir, 0o500))
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	return dir, file
}

func TestRemoveAllReadOnlyTreeUnprivileged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	must(t, os.MkdirAll(filepath.Join(dir, "a", "noread"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "a", "f"), []byte("x"), 0o000))
	must(t, os.Chmod(filepath.Join(dir, "a", "noread"), 0o100)) // search only
	must(t, os.Chmod(filepath.Join(dir, "a"), 0o500))
	must(t, os.Chmod(dir, 0o555))
	if err := RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tree still there: %v", err)
	}
	if err := RemoveAll(dir); err != nil {
		t.Errorf("RemoveAll of a missing path = %v; want nil", err)
	}
}

// TestRemoveAllUnlinksSymlinks: links inside the tree, and the tree itself
// being a link, are removed as links; their targets stay.
func TestRemoveAllUnlinksSymlinks(t *testing.T) {
	out, secret := outsideTree(t)
	before := snapshot(t, out)
	tests := []struct {
		name string
		make func(t *testing.T, tree string)
	}{
		{"link to a dir inside a read-only dir", func(t *testing.T, tree string) {
			must(t, os.MkdirAll(filepath.Join(tree, "lib"), 0o755))
			must(t, os.Symlink(out, filepath.Join(tree, "lib", "x")))
			must(t, os.Chmod(filepath.Join(tree, "lib"), 0o555))
		}},
		{"link to a file", func(t *testing.T, tree string) {
			must(t, os.Mkdir(tree, 0o755))
			must(t, os.Symlink(secret, filepath.Join(tree, "x")))
		}},
		{"the tree itself is a link", func(t *testing.T, tree string) { must(t, os.Symlink(out, tree)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := filepath.Join(t.TempDir(), "tree")
			tt.make(t, tree)
			if err := RemoveAll(tree); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(tree); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("tree still there: %v", err)
			}
			if after := snapshot(t, out); after != before {
				t.Errorf("outside changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

// swapper flips dir/name (for each of names in turn) between the real
// directory and a symlink to target until stop is closed, as a hostile
// owner of dir would during a walk. It returns how many times a link was
// in place.
func swapper(dir, name, target string, stop <-chan struct{}, wg *sync.WaitGroup, more ...string) *int {
	swaps := new(int)
	names := append([]string{name}, more...)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := names[i%len(names)]
			p, aside := filepath.Join(dir, n), filepath.Join(dir, "."+n+".aside")
			if os.Rename(p, aside) == nil {
				if os.Symlink(target, p) == nil {
					*swaps++
					os.Remove(p)
				}
				os.Rename(aside, p)
			}
		}
	}()
	return swaps
}

// TestRemoveAllRacedWithSymlinkSwaps races RemoveAll against an entry
// being swapped for a symlink to an outside directory: nothing outside may
// change, whoever wins each round.
func TestRemoveAllRacedWithSymlinkSwaps(t *testing.T) {
	out, _ := outsideTree(t)
	before := snapshot(t, out)
	base := t.TempDir()
	total := 0
	for i := range 60 {
		tree := filepath.Join(base, "t"+itoa(i))
		var names []string
		for j := range 20 { // many read-only dirs: many chances to win
			ro := filepath.Join(tree, "lib", "ro"+itoa(j))
			must(t, os.MkdirAll(filepath.Join(ro, "deep"), 0o755))
			must(t, os.WriteFile(filepath.Join(ro, "deep", "f"), []byte("x"), 0o444))
			must(t, os.Chmod(filepath.Join(ro, "deep"), 0o555))
			must(t, os.Chmod(ro, 0o555)) // RemoveAll must make it writable: by fd only
			names = append(names, "ro"+itoa(j))
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		swaps := swapper(filepath.Join(tree, "lib"), names[0], out, stop, &wg, names[1:]...)
		err := RemoveAll(tree)
		close(stop)
		wg.Wait()
		total += *swaps
		if err != nil {
			t.Logf("round %d: %v", i, err) // losing to the swapper is allowed
			RemoveAll(tree)
		}
		if after := snapshot(t, out); after != before {
			t.Fatalf("round %d: outside changed:\n%s\nwas:\n%s", i, after, before)
		}
	}
	if total == 0 {
		t.Error("the swapper never got its link in place; the race was not exercised")
	}
	t.Logf("%d swaps", total)
}

func TestChmodTreeSkipsSymlinks(t *testing.T) {
	out, secret := outsideTree(t)
	must(t, os.Chmod(secret, 0o666))
	before := snapshot(t, out)
	tree := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(filepath.Join(tree, "lib"), 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "lib", "x.js"), []byte("x"), 0o664))
	must(t, os.WriteFile(filepath.Join(tree, "run"), []byte("x"), 0o775))
	must(t, os.Symlink(secret, filepath.Join(tree, "lib", "file-link")))
	must(t, os.Symlink(out, filepath.Join(tree, "dir-link")))
	must(t, syscall.Mkfifo(filepath.Join(tree, "fifo"), 0o666))
	must(t, os.Chmod(filepath.Join(tree, "fifo"), 0o666)) // the umask filtered it

	if err := ChmodTree(tree, func(m fs.FileMode) fs.FileMode { return m &^ 0o222 }); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{"": 0o555, "lib": 0o555, "lib/x.js": 0o444, "run": 0o555, "fifo": 0o666}
	for name, mode := range want {
		fi, err := os.Lstat(filepath.Join(tree, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%q: %v, %v; want %v", name, fi.Mode().Perm(), err, mode)
		}
	}
	if after := snapshot(t, out); after != before {
		t.Errorf("outside changed:\n%s\nwas:\n%s", after, before)
	}
	if err := RemoveAll(tree); err != nil {
		t.Fatal(err)
	}
}

// TestChmodTreeRacedWithSymlinkSwaps: a directory swapped for a link to an
// outside directory mid-walk is skipped, never followed.
func TestChmodTreeRacedWithSymlinkSwaps(t *testing.T) {
	out, _ := outsideTree(t)
	must(t, os.Chmod(out, 0o777))
	before := snapshot(t, out)
	tree := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(filepath.Join(tree, "lib", "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "lib", "sub", "f"), []byte("x"), 0o644))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	swaps := swapper(filepath.Join(tree, "lib"), "sub", out, stop, &wg)
	for i := range 500 {
		if err := ChmodTree(filepath.Join(tree, "lib", "sub"), func(m fs.FileMode) fs.FileMode { return m ^ 0o020 }); err != nil &&
			!errors.Is(err, fs.ErrNotExist) {
			t.Logf("round %d: %v", i, err)
		}
		if after := snapshot(t, out); after != before {
			close(stop)
			wg.Wait()
			t.Fatalf("round %d: outside changed:\n%s\nwas:\n%s", i, after, before)
		}
	}
	close(stop)
	wg.Wait()
	if *swaps == 0 {
		t.Error("the swapper never got its link in place; the race was not exercised")
	}
}
