// Package provision puts together the gateway's runtime: the pinned Node
// and the pinned openclaw package, each in its own versioned directory
// under <state_dir>/runtime, and the `current` pointer that names the pair
// in use. The pointer is one small file replaced by rename, so a switch is
// atomic and an interrupted install never changes what runs.
package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
)

// Options describe the wanted runtime.
type Options struct {
	Root     string // <state_dir>/runtime
	Node     node.Options
	Openclaw openclaw.InstallOptions
	Log      *slog.Logger
	// KeepCurrent installs the wanted runtime beside a complete current
	// one without switching to it: only an upgrade, with its snapshot
	// and health gate, may switch a gateway that has state.
	KeepCurrent bool
}

// Runtime is a complete, provisioned runtime.
type Runtime struct {
	Node     node.Install
	Openclaw openclaw.Install
	// Fallback is why the wanted runtime could not be provisioned when
	// this is the previous one, still current; nil otherwise.
	Fallback error
}

// Current is the pointer file's content.
type Current struct {
	Node     string `json:"node"`     // directory name under Root
	Openclaw string `json:"openclaw"` // directory name under Root
}

// CurrentFile is the pointer to the runtime in use.
func CurrentFile(root string) string { return filepath.Join(root, "current.json") }

// lockFile serialises provisioning and pruning between processes (the
// daemon, `openclawd runtime install`, a second openclawd).
func lockFile(root string) string { return filepath.Join(root, ".lock") }

func lock(ctx context.Context, root string, log *slog.Logger) (*fsutil.Lock, error) {
	return fsutil.Acquire(ctx, lockFile(root), func(pid int) {
		log.Info("another openclawd process is provisioning or pruning the runtime; waiting", "pid", pid)
	})
}

// Ensure provisions whatever is missing, then switches `current` to it.
// If that fails and `current` names a complete runtime, it returns that
// one with the error in Fallback: a failed upgrade must not take the
// gateway down.
func Ensure(ctx context.Context, o Options) (Runtime, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l, err := lock(ctx, o.Root, log)
	if err != nil {
		return Runtime{}, fmt.Errorf("locking the runtime: %w", err)
	}
	defer l.Unlock()
	rt, err := ensure(ctx, o, log)
	if err == nil {
		return rt, nil
	}
	if prev, ok := Installed(o.Root); ok && (prev.Node.Dir != rt.Node.Dir || prev.Openclaw.Dir != rt.Openclaw.Dir) {
		prev.Fallback = err
		return prev, nil
	}
	return Runtime{}, err
}

// Installed is the runtime current.json names under root, if both of its
// directories are complete installs.
func Installed(root string) (Runtime, bool) {
	cur, err := ReadCurrent(root)
	if err != nil || !Complete(root, cur) {
		return Runtime{}, false
	}
	return Runtime{
		Node:     node.Install{Dir: filepath.Join(root, cur.Node)},
		Openclaw: openclaw.Install{Dir: filepath.Join(root, cur.Openclaw), Version: strings.TrimPrefix(cur.Openclaw, "openclaw-")},
	}, true
}

const marker = ".openclawd-installed"

func ensure(ctx context.Context, o Options, log *slog.Logger) (Runtime, error) {
	n, ok := node.Find(o.Node)
	if !ok {
		log.Info("provisioning Node.js", "version", o.Node.Version)
		var err error
		if n, err = node.Ensure(ctx, o.Node); err != nil {
			return Runtime{}, err
		}
	}
	o.Openclaw.Node = n
	oc, ok := openclaw.Find(o.Openclaw)
	if !ok {
		log.Info("installing openclaw with npm ci (about 330 packages; a minute or two on a small host)", "version", o.Openclaw.Version)
		var err error
		if oc, err = openclaw.Ensure(ctx, o.Openclaw); err != nil {
			return Runtime{}, err
		}
	}
	cur := Current{Node: filepath.Base(n.Dir), Openclaw: filepath.Base(oc.Dir)}
	if old, _ := ReadCurrent(o.Root); o.KeepCurrent && Complete(o.Root, old) {
		return Runtime{Node: n, Openclaw: oc}, nil
	} else if old != cur {
		if err := Point(o.Root, cur); err != nil {
			return Runtime{}, err
		}
		log.Info("runtime switched", "node", cur.Node, "openclaw", cur.Openclaw)
	}
	return Runtime{Node: n, Openclaw: oc}, nil
}

// Point makes cur the runtime in use: one atomic rename. Both of its
// directories must be complete installs.
func Point(root string, cur Current) error {
	if !Complete(root, cur) {
		return fmt.Errorf("switching the current runtime: %s and %s are not both complete installs in %s", cur.Node, cur.Openclaw, root)
	}
	b, _ := json.MarshalIndent(cur, "", "  ")
	if err := fsutil.WriteFileAtomic(CurrentFile(root), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("switching the current runtime: %w", err)
	}
	return nil
}

// Complete reports whether cur names two complete installs under root.
func Complete(root string, cur Current) bool {
	for _, d := range []string{cur.Node, cur.Openclaw} {
		if !PlainName(d) {
			return false
		}
		if fi, err := os.Lstat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			return false
		}
		if _, err := os.Stat(filepath.Join(root, d, marker)); err != nil {
			return false
		}
	}
	return true
}

// ReadCurrent reads the pointer; a missing one is the zero Current.
func ReadCurrent(root string) (Current, error) {
	var c Current
	b, err := os.ReadFile(CurrentFile(root))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("reading %s: %w", CurrentFile(root), err)
	}
	return c, nil
}

// PlainName reports whether a name from current.json (or any record that
// names a runtime directory) is one entry of the runtime dir, not a path
// that leaves it.
func PlainName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// Entry is one versioned directory under Root.
type Entry struct {
	Name     string `json:"name"`
	Complete bool   `json:"complete"`
	Current  bool   `json:"current"`
	Bytes    int64  `json:"bytes"`
}

// List describes the runtime directories, including incomplete leftovers.
func List(root string) ([]Entry, error) {
	cur, err := ReadCurrent(root)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, e := range ents {
		name := e.Name()
		// A symlink in place of a runtime directory is listed (so prune
		// removes it, as a link) but never complete.
		link := e.Type()&fs.ModeSymlink != 0
		if !(e.IsDir() || link) || name == ".npm-cache" || name == ".lock" || !(strings.HasPrefix(name, "node-") || strings.HasPrefix(name, "openclaw-") || strings.HasPrefix(name, ".")) {
			continue
		}
		_, err := os.Stat(filepath.Join(root, name, marker))
		out = append(out, Entry{Name: name, Complete: err == nil && !link, Current: name == cur.Node || name == cur.Openclaw,
			Bytes: fsutil.DirSize(filepath.Join(root, name))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Prune removes every runtime directory that neither `current` nor keep
// (directory names, e.g. the runtime the running gateway uses) names, and
// leftovers of interrupted installs. It returns what it removed.
func Prune(ctx context.Context, root string, keep ...string) ([]Entry, error) {
	l, err := lock(ctx, root, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("locking the runtime: %w", err)
	}
	defer l.Unlock()
	ents, err := List(root)
	if err != nil {
		return nil, err
	}
	var removed []Entry
	for _, e := range ents {
		if e.Current || slices.Contains(keep, e.Name) {
			continue
		}
		p := filepath.Join(root, e.Name)
		// The marker goes first: a removal cut short leaves a tree that is
		// no longer trusted, never a trusted half. The walk opens every
		// entry without following links and changes modes through what
		// it opened, so an entry swapped for a symlink is unlinked, and
		// nothing outside root changes.
		if err := fsutil.RemoveAllFirst(p, marker); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				err = fmt.Errorf("%w (run it as the user that installed the runtime, or with sudo)", err)
			}
			return removed, fmt.Errorf("removing %s: %w", p, err)
		}
		removed = append(removed, e)
	}
	return removed, nil
}
