package logpipe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func numbered(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("line %05d", i))
	}
	return out
}

func TestTail(t *testing.T) {
	// 12,000 lines of 11 bytes span several 64 KiB read chunks.
	big := strings.Join(numbered(0, 12000), "\n") + "\n"
	tests := []struct {
		name  string
		files map[string]string // suffix after the path -> content
		n     int
		want  []string
	}{
		{"nothing there", nil, 5, nil},
		{"current file only", map[string]string{"": "a\nb\nc\n"}, 2, []string{"b", "c"}},
		{"spans rotated files", map[string]string{".2": "a\nb\n", ".1": "c\nd\n", "": "e\n"}, 4, []string{"b", "c", "d", "e"}},
		{"more than exist", map[string]string{".2": "a\nb\n", ".1": "c\nd\n", "": "e\n"}, 10, []string{"a", "b", "c", "d", "e"}},
		{"no trailing newline", map[string]string{"": "a\nb"}, 1, []string{"b"}},
		{"gap in numbering", map[string]string{".3": "a\n", ".1": "b\n", "": "c\n"}, 3, []string{"a", "b", "c"}},
		{"other suffixes ignored", map[string]string{".bak": "x\n", ".01": "y\n", ".1": "b\n", "": "c\n"}, 5, []string{"b", "c"}},
		{"current file missing", map[string]string{".1": "a\nb\n"}, 1, []string{"b"}},
		{"empty current file", map[string]string{".1": "a\n", "": ""}, 1, []string{"a"}},
		{"n zero", map[string]string{"": "a\n"}, 0, nil},
		{"few lines of a big file", map[string]string{"": big}, 3, numbered(11997, 12000)},
		{"across read chunks", map[string]string{"": big}, 9000, numbered(3000, 12000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gateway.log")
			for suffix, content := range tt.files {
				if err := os.WriteFile(path+suffix, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Tail(path, tt.n)
			if err != nil {
				t.Fatalf("Tail: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Tail = %d lines %q..., want %d lines %q...", len(got), head(got), len(tt.want), head(tt.want))
			}
		})
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func TestTailAfterRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "gateway.log")
	f, err := OpenRotating(path, 120, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all := numbered(0, 100)
	for _, l := range all {
		if _, err := f.Write([]byte(l + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Tail(path, 20)
	if err != nil || !slices.Equal(got, all[80:]) {
		t.Errorf("Tail(20) = %q, %v; want %q", got, err, all[80:])
	}
	// Three files of at most 120 bytes hold the last 30 lines of 11 bytes.
	got, err = Tail(path, 1000)
	if err != nil || !slices.Equal(got, all[len(all)-len(got):]) || len(got) < 25 {
		t.Errorf("Tail(1000) = %q, %v; want a contiguous suffix of at least 25 lines", got, err)
	}
}

// startFollow runs follow in the background and waits until it has fixed
// its starting point. The returned stop cancels it and checks it returned nil.
func startFollow(t *testing.T, path string) (*syncBuffer, func()) {
	t.Helper()
	out := newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- follow(ctx, path, out, 2*time.Millisecond, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("follow ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not start")
	}
	return out, func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Follow returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Follow did not return after cancel")
		}
	}
}

func TestFollowRotationAndTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.log")
	f, err := OpenRotating(path, 200, 2)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("printed by Tail already\n"))
	out, stop := startFollow(t, path)
	defer stop()

	var want strings.Builder
	write := func(line string) {
		t.Helper()
		if _, err := f.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		want.WriteString(line + "\n")
	}
	// One line at a time, each seen before the next: Follow crosses every
	// rotation on the way.
	for i := range 30 {
		write(fmt.Sprintf("step %02d %s", i, strings.Repeat("s", 12)))
		out.waitFor(t, want.String())
	}
	// A burst causing one rotation between polls: the old file must be
	// drained before switching.
	for i := range 8 {
		write(fmt.Sprintf("burst %02d %s", i, strings.Repeat("b", 12)))
	}
	out.waitFor(t, want.String())

	// Truncation: a line shorter than what was copied restarts from the top.
	f.Close()
	if err := os.WriteFile(path, []byte("after truncate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want.WriteString("after truncate\n")
	out.waitFor(t, want.String())
	if got := out.String(); got != want.String() {
		t.Errorf("output:\n%s\nwant:\n%s", got, want.String())
	}
}

func TestFollowWaitsForFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	out, stop := startFollow(t, path)
	defer stop()
	if err := os.WriteFile(path, []byte("first\nsecond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "first\nsecond\n")
}
