package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

const top = "node-v24.21.0-linux-x64"

// entry describes one tar member; zero fields mean a 0644 regular file.
type entry struct {
	name string // relative to top unless it starts with "!"
	typ  byte
	body string
	link string
	mode int64
	size int64 // header size if not len(body): the stream then ends early
}

// makeArchive builds a tar compressed with format ("gz" or "xz"). An entry
// whose size differs from its body leaves the tar unfinished, as a truncated
// download would.
func makeArchive(tb testing.TB, format string, entries []entry) []byte {
	tb.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	finished := true
	for _, e := range entries {
		h := &tar.Header{Name: top + "/" + e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: e.size}
		if n, ok := strings.CutPrefix(e.name, "!"); ok {
			h.Name = n
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg && h.Size == 0 {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			tb.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && h.Size != int64(len(e.body)) {
			finished = false
			break
		}
	}
	if finished {
		if err := tw.Close(); err != nil {
			tb.Fatal(err)
		}
	} else if err := tw.Flush(); err != nil && !strings.Contains(err.Error(), "missed writing") {
		tb.Fatal(err)
	}
	return compress(tb, format, raw.Bytes())
}

func compress(tb testing.TB, format string, data []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	var err error
	switch format {
	case "gz":
		zw := gzip.NewWriter(&out)
		if _, err = zw.Write(data); err == nil {
			err = zw.Close()
		}
	case "xz":
		var zw *xz.Writer
		if zw, err = xz.NewWriter(&out); err == nil {
			if _, err = zw.Write(data); err == nil {
				err = zw.Close()
			}
		}
	default:
		err = fmt.Errorf("unknown format %q", format)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// writeFile stores data as dir/name and returns the path.
func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// openFile opens path for Extract, closing it when the test ends.
func openFile(tb testing.TB, path string) *os.File {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// listDir returns the names in dir, to prove nothing was left behind.
func listDir(tb testing.TB, dir string) []string {
	tb.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// benchTree is ~50 MB: 400 files of 128 KiB of word-like text, so it
// compresses like source code rather than like zeros.
func benchTree() (entries []entry, total int64) {
	words := strings.Fields("function return const let var require module exports node npm lib bin the of and if else")
	rng := rand.New(rand.NewPCG(1, 2))
	entries = []entry{{name: "", typ: tar.TypeDir, mode: 0o755}}
	for i := range 400 {
		var sb strings.Builder
		for sb.Len() < 128<<10 {
			sb.WriteString(words[rng.IntN(len(words))])
			sb.WriteByte(" \n"[rng.IntN(2)])
		}
		body := sb.String()[:128<<10]
		if i%50 == 0 {
			entries = append(entries, entry{name: fmt.Sprintf("d%d", i), typ: tar.TypeDir, mode: 0o755})
		}
		entries = append(entries, entry{name: fmt.Sprintf("d%d/f%d.js", i/50*50, i), body: body})
		total += int64(len(body))
	}
	return entries, total
}

// BenchmarkExtract reports MB/s of unpacked data, including the syncfs.
func BenchmarkExtract(b *testing.B) {
	entries, total := benchTree()
	for _, format := range []string{"gz", "xz"} {
		b.Run(format, func(b *testing.B) {
			dir := b.TempDir()
			archive := openFile(b, writeFile(b, dir, "node.tar."+format, makeArchive(b, format, entries)))
			b.SetBytes(total)
			b.ResetTimer()
			for i := range b.N {
				dst := filepath.Join(dir, fmt.Sprint(i))
				if err := Extract(archive, dst, Limits{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dst)
				b.StartTimer()
			}
		})
	}
}
