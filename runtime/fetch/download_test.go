package fetch

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestDownload(t *testing.T) {
	payload := []byte(strings.Repeat("node tarball bytes ", 10000))
	mux := http.NewServeMux()
	mux.HandleFunc("/v24.21.0/node.tar.xz", func(w http.ResponseWriter, r *http.Request) {
		w.Write(payload) // a single Write: net/http sets Content-Length
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Write(payload[:10])
		w.(http.Flusher).Flush() // forces chunked encoding: length unknown
		w.Write(payload[10:])
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write(payload[:10])
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "oops", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	src := t.TempDir()
	local := writeFile(t, src, "node.tar.xz", payload)

	tests := []struct {
		name    string
		url     string
		sha     string
		wantErr string
		is      error
	}{
		{name: "http", url: srv.URL + "/v24.21.0/node.tar.xz", sha: sum(payload)},
		{name: "http without length", url: srv.URL + "/chunked", sha: sum(payload)},
		{name: "file URL", url: "file://" + filepath.ToSlash(local), sha: sum(payload)},
		{name: "checksum mismatch", url: srv.URL + "/v24.21.0/node.tar.xz", sha: sum([]byte("other")),
			is: ErrChecksumMismatch, wantErr: "got sha256 " + sum(payload) + ", want " + sum([]byte("other"))},
		{name: "404", url: srv.URL + "/v99.0.0/node.tar.xz", sha: sum(payload),
			is: ErrNotFound, wantErr: srv.URL + "/v99.0.0/node.tar.xz: not found; check the version and the mirror URL (HTTP 404 Not Found)"},
		{name: "missing file", url: "file://" + filepath.ToSlash(src) + "/nope.tar.xz", sha: sum(payload), is: ErrNotFound},
		{name: "server error", url: srv.URL + "/broken", sha: sum(payload), wantErr: "HTTP 500"},
		{name: "truncated body", url: srv.URL + "/short", sha: sum(payload), wantErr: "unexpected EOF"},
		{name: "bad pin", url: srv.URL + "/v24.21.0/node.tar.xz", sha: "abc", wantErr: "not 64 hex digits"},
		{name: "unsupported scheme", url: "ftp://example.com/node.tar.xz", sha: sum(payload), wantErr: "unsupported URL scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var last [2]int64
			got, err := Download(context.Background(), tt.url, tt.sha, dir, func(done, total int64) { last = [2]int64{done, total} })
			if tt.wantErr == "" && tt.is == nil {
				if err != nil {
					t.Fatalf("Download: %v", err)
				}
				defer got.Close()
				if b, err := io.ReadAll(got); err != nil || string(b) != string(payload) {
					t.Errorf("downloaded file differs (%v)", err)
				}
				// The verified bytes live on as the descriptor only.
				if _, err := os.Lstat(got.Name()); !errors.Is(err, fs.ErrNotExist) || len(listDir(t, dir)) != 0 {
					t.Errorf("%s: %v; dir holds %q; want nothing by name", got.Name(), err, listDir(t, dir))
				}
				if n := int64(len(payload)); last != [2]int64{n, n} {
					t.Errorf("last progress = %v, want done == total == %d", last, n)
				}
				return
			}
			if err == nil || tt.is != nil && !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Download error = %v, want %v containing %q", err, tt.is, tt.wantErr)
			}
			t.Log(err)
			if left := listDir(t, dir); len(left) != 0 {
				t.Errorf("after failure dir holds %q", left)
			}
		})
	}
}

func TestDownloadStalled(t *testing.T) {
	defer func(d time.Duration) { stallTimeout = d }(stallTimeout)
	stallTimeout = 50 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then nothing: a dead mirror
	}))
	defer srv.Close()
	dir := t.TempDir()
	_, err := Download(context.Background(), srv.URL+"/node.tar.xz", sum(nil), dir, nil)
	if err == nil || !strings.Contains(err.Error(), "no data received") {
		t.Fatalf("Download error = %v, want a stall", err)
	}
	if left := listDir(t, dir); len(left) != 0 {
		t.Errorf("after failure dir holds %q", left)
	}
}

func TestDownloadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	local := writeFile(t, t.TempDir(), "node.tar.xz", []byte("x"))
	_, err := Download(ctx, "file://"+local, sum([]byte("x")), dir, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Download error = %v, want context.Canceled", err)
	}
	if left := listDir(t, dir); len(left) != 0 {
		t.Errorf("after failure dir holds %q", left)
	}
}

func TestDownloadRemovesStalePartial(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, ".node.tar.xz.123.partial", []byte("left by kill -9"))
	writeFile(t, dir, ".other.tar.xz.456.partial", []byte("not ours"))
	local := writeFile(t, t.TempDir(), "node.tar.xz", []byte("x"))
	got, err := Download(context.Background(), "file://"+local, sum([]byte("x")), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if want := []string{".other.tar.xz.456.partial"}; !slices.Equal(listDir(t, dir), want) {
		t.Errorf("dir holds %q, want %q", listDir(t, dir), want)
	}
}

// TestDownloadWritesIntoAPrivateDir looks at the download while it runs:
// the file must sit in a 0700 directory of this process's own, where no
// other user can reach it to swap it between the write and the extraction.
func TestDownloadWritesIntoAPrivateDir(t *testing.T) {
	payload := []byte(strings.Repeat("x", 1<<20))
	local := writeFile(t, t.TempDir(), "node.tar.xz", payload)
	dir := t.TempDir()
	checked := false
	check := func(done, total int64) {
		if checked || done == 0 {
			return
		}
		checked = true
		ents := listDir(t, dir)
		if len(ents) != 1 || !strings.HasPrefix(ents[0], ".node.tar.xz.") || !strings.HasSuffix(ents[0], ".partial") {
			t.Fatalf("while downloading, dir holds %q; want one private .node.tar.xz.*.partial dir", ents)
		}
		priv := filepath.Join(dir, ents[0])
		fi, err := os.Lstat(priv)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || int(fi.Sys().(*syscall.Stat_t).Uid) != os.Geteuid() {
			t.Fatalf("private dir %v, %v; want our own 0700 directory", fi.Mode(), err)
		}
		fi, err = os.Lstat(filepath.Join(priv, "node.tar.xz"))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Fatalf("temp file %v, %v; want a 0600 regular file", fi.Mode(), err)
		}
	}
	f, err := Download(context.Background(), "file://"+local, sum(payload), dir, check)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !checked {
		t.Fatal("progress never reported bytes in flight")
	}
}

// TestExtractReadsTheVerifiedDescriptor plants a different archive at the
// downloaded file's old name after verification: Extract must unpack the
// verified bytes, which it reads from the descriptor, not the name.
func TestExtractReadsTheVerifiedDescriptor(t *testing.T) {
	good := makeArchive(t, "gz", []entry{{name: "", typ: tar.TypeDir}, {name: "who", body: "verified"}})
	evil := makeArchive(t, "gz", []entry{{name: "", typ: tar.TypeDir}, {name: "who", body: "planted"}})
	local := writeFile(t, t.TempDir(), "node.tar.gz", good)
	dir := t.TempDir()
	f, err := Download(context.Background(), "file://"+local, sum(good), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.MkdirAll(filepath.Dir(f.Name()), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Dir(f.Name()), filepath.Base(f.Name()), evil)
	dst := filepath.Join(dir, "v24")
	if err := Extract(f, dst, Limits{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "who")); err != nil || string(b) != "verified" {
		t.Errorf("extracted %q, %v; want the verified archive's content", b, err)
	}
}
