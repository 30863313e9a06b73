package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/openclawd/openclawd/config"
)

// Archive is one complete archive, here or at a target.
type Archive struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"` // from its name
	Size    int64     `json:"size"`
}

// List returns the complete archives in dir, newest first. Partial ones
// (dot names) and anything else are not archives.
func List(dir string) ([]Archive, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing backups: %w", err)
	}
	var out []Archive
	for _, e := range ents {
		t, ok := ArchiveTime(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, Archive{Name: e.Name(), Created: t, Size: fi.Size()})
	}
	SortNewest(out)
	return out, nil
}

// SortNewest sorts archives newest first.
func SortNewest(a []Archive) {
	slices.SortFunc(a, func(x, y Archive) int { return y.Created.Compare(x.Created) })
}

// Prune picks which archives go under keep: the keep.Last newest, and the
// newest archive of each of the last keep.Daily days, keep.Weekly ISO
// weeks and keep.Monthly months (UTC) that have one, stay, as does the
// newest overall; the rest are returned.
func Prune(archives []Archive, keep config.Keep) []Archive {
	a := slices.Clone(archives)
	SortNewest(a)
	kept := map[string]bool{}
	for i, x := range a {
		if i == 0 || i < keep.Last {
			kept[x.Name] = true
		}
	}
	bucket := func(n int, key func(time.Time) string) {
		seen := map[string]bool{}
		for _, x := range a {
			if len(seen) >= n {
				return
			}
			k := key(x.Created.UTC())
			if !seen[k] {
				seen[k] = true
				kept[x.Name] = true
			}
		}
	}
	bucket(keep.Daily, func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(keep.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) })
	bucket(keep.Monthly, func(t time.Time) string { return t.Format("2006-01") })
	var drop []Archive
	for _, x := range a {
		if !kept[x.Name] {
			drop = append(drop, x)
		}
	}
	return drop
}

// PruneDir removes the archives in dir that Prune drops, and returns them.
func PruneDir(dir string, keep config.Keep) ([]Archive, error) {
	all, err := List(dir)
	if err != nil {
		return nil, err
	}
	drop := Prune(all, keep)
	for _, x := range drop {
		if err := os.Remove(filepath.Join(dir, x.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pruning %s: %w", x.Name, err)
		}
	}
	return drop, nil
}
