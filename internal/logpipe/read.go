package logpipe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tail returns the last n lines across path.<k> ... path.1, path, oldest
// first. Missing files, including path itself, are not errors.
func Tail(path string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	names, err := logFiles(path)
	if err != nil {
		return nil, err
	}
	var chunks [][]string // newest file first
	need := n
	for _, name := range names {
		lines, err := lastLines(name, need)
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away between listing and opening
		}
		if err != nil {
			return nil, fmt.Errorf("logpipe: tail %s: %w", name, err)
		}
		chunks = append(chunks, lines)
		if need -= len(lines); need == 0 {
			break
		}
	}
	out := make([]string, 0, n-need)
	for i := len(chunks) - 1; i >= 0; i-- {
		out = append(out, chunks[i]...)
	}
	return out, nil
}

// logFiles lists path and its rotated siblings, newest first. Numbered
// files are found by listing the directory rather than counting up from 1,
// so a gap left by a failed rotation does not hide older files.
func logFiles(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("logpipe: list log files: %w", err)
	}
	var nums []int
	for _, e := range ents {
		suffix, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok {
			continue
		}
		if k, err := strconv.Atoi(suffix); err == nil && k > 0 && strconv.Itoa(k) == suffix {
			nums = append(nums, k)
		}
	}
	slices.Sort(nums)
	names := []string{path}
	for _, k := range nums {
		names = append(names, path+"."+strconv.Itoa(k))
	}
	return names, nil
}

// lastLines returns up to n last lines of a file, reading backwards in
// chunks so `logs -n 20` costs little on a full-size file.
func lastLines(name string, n int) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	const chunk = 64 << 10
	end := st.Size()
	var data []byte
	for off := end; off > 0; {
		size := min(int64(chunk), off)
		off -= size
		buf := make([]byte, size)
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		data = append(buf, data...)
		// n lines are complete once n newlines precede the final line.
		if bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) >= n {
			break
		}
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) == 0 {
		return nil, nil
	}
	lines := strings.Split(string(data), "\n")
	return lines[max(0, len(lines)-n):], nil
}

// Follow copies lines appended to path to w until ctx ends, starting at the
// current end of the file (the caller has printed Tail already). It polls
// every poll (default 250ms), follows rotation by noticing that path names
// a new file (after draining the old one) and restarts from the top when
// the file shrinks. It returns nil when ctx ends. Polling rather than
// inotify keeps it portable; the price is that lines in a file rotated
// twice within one poll, or written between the caller's Tail and Follow's
// start, are not shown.
func Follow(ctx context.Context, path string, w io.Writer, poll time.Duration) error {
	return follow(ctx, path, w, poll, nil)
}

// follow is Follow with a hook called once the starting position is fixed,
// so tests can write without racing the initial open.
func follow(ctx context.Context, path string, w io.Writer, poll time.Duration, ready func()) error {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	fl := &follower{path: path, w: w}
	defer fl.close()
	if err := fl.start(); err != nil {
		return err
	}
	if ready != nil {
		ready()
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := fl.poll(); err != nil {
				return err
			}
		}
	}
}
