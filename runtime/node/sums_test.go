package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sum is a well-formed fake sha256 made of one repeated hex digit.
func sum(c string) string { return strings.Repeat(c, 64) }

// shasums is a SHASUMS256.txt like the official one: tarballs for several
// platforms, other formats, headers and the source.
var shasums = strings.Join([]string{
	sum("a") + "  node-v24.21.0-darwin-arm64.tar.xz",
	sum("b") + "  node-v24.21.0-darwin-x64.tar.xz",
	sum("c") + "  node-v24.21.0-linux-arm64.tar.xz",
	sum("D") + "  node-v24.21.0-linux-x64.tar.xz",
	sum("e") + "  node-v24.21.0-linux-x64.tar.gz",
	sum("f") + "  node-v24.21.0-win-x64.zip",
	sum("1") + "  node-v24.21.0-headers.tar.xz",
	sum("2") + "  node-v24.21.0.tar.xz",
	sum("3") + "  win-x64/node.exe",
	"",
}, "\n")

var wantSums = map[string]string{
	"darwin-arm64": sum("a"), "darwin-x64": sum("b"), "linux-arm64": sum("c"), "linux-x64": sum("d"),
}

func TestParseSums(t *testing.T) {
	for _, tc := range []struct {
		name, data, version string
		want                map[string]string
		errPart             string
	}{
		{"official layout", shasums, "24.21.0", wantSums, ""},
		{"binary-mode marker", sum("a") + "  *node-v24.21.0-linux-x64.tar.xz\n", "24.21.0", map[string]string{"linux-x64": sum("a")}, ""},
		{"other version", shasums, "24.20.0", map[string]string{}, ""},
		{"version prefix only", sum("a") + "  node-v24.21.0-linux-x64.tar.xz\n", "24.21", map[string]string{}, ""},
		{"empty", "", "24.21.0", map[string]string{}, ""},
		{"short hash", "abc  node-v24.21.0-linux-x64.tar.xz\n", "24.21.0", nil, "line 1: malformed"},
		{"one space", strings.Replace(shasums, "  ", " ", 1), "24.21.0", nil, "line 1: malformed"},
		{"html", "<html>Not Found</html>\n", "24.21.0", nil, "line 1: malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSums(strings.NewReader(tc.data), tc.version)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err = %v; want it to contain %q", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %v; want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q; want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestSums(t *testing.T) {
	t.Setenv(MirrorEnv, "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dist/v24.21.0/SHASUMS256.txt":
			w.Write([]byte(shasums))
		case "/dist/v24.22.0/SHASUMS256.txt":
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		case "/dist/v24.23.0/SHASUMS256.txt":
			w.Write([]byte(strings.Repeat(sum("0")+"  x\n", 20000))) // > maxSums
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	fileMirror := t.TempDir()
	if err := os.MkdirAll(filepath.Join(fileMirror, "v24.21.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fileMirror, "v24.21.0", "SHASUMS256.txt"), []byte(shasums), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mirror, version, errPart string
	}{
		{"http", srv.URL + "/dist", "24.21.0", ""},
		{"http trailing slash", srv.URL + "/dist/", "24.21.0", ""},
		{"file", "file://" + fileMirror, "24.21.0", ""},
		{"http unknown version", srv.URL + "/dist", "24.99.0",
			"Node 24.99.0 is not on " + srv.URL + "/dist (" + srv.URL + "/dist/v24.99.0/SHASUMS256.txt: HTTP 404 Not Found): check the version"},
		{"file unknown version", "file://" + fileMirror, "24.99.0",
			"Node 24.99.0 is not on file://" + fileMirror + " (file://" + fileMirror + "/v24.99.0/SHASUMS256.txt: no such file): check the version"},
		{"server error", srv.URL + "/dist", "24.22.0", "HTTP 503"},
		{"too large", srv.URL + "/dist", "24.23.0", "larger than 1024 KB"},
		{"password hidden", "http://user:secret@" + strings.TrimPrefix(srv.URL, "http://") + "/nope", "24.21.0", "user:xxxxx@"},
		{"remote file URL", "file://example.com/dist", "24.21.0", "must name a local path"},
		{"other scheme", "ftp://example.com/dist", "24.21.0", `unsupported URL scheme "ftp"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sums(context.Background(), tc.mirror, tc.version)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err = %v; want it to contain %q", err, tc.errPart)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("err = %v shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(wantSums) {
				t.Errorf("got %v; want %v", got, wantSums)
			}
			for k, v := range wantSums {
				if got[k] != v {
					t.Errorf("%s = %q; want %q", k, got[k], v)
				}
			}
		})
	}

	t.Run("env mirror wins", func(t *testing.T) {
		t.Setenv(MirrorEnv, "file://"+fileMirror)
		if got, err := Sums(context.Background(), "ftp://never.used", "24.21.0"); err != nil || got["linux-x64"] != sum("d") {
			t.Fatalf("got %v, %v; want the env mirror's sums", got, err)
		}
	})
}

func TestSumFor(t *testing.T) {
	t.Setenv(MirrorEnv, "")
	platform, err := Platform()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	write := func(version, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "v"+version), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "v"+version, "SHASUMS256.txt"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("24.21.0", shasums)
	write("24.22.0", sum("a")+"  node-v24.22.0-aix-ppc64.tar.xz\n")
	for _, tc := range []struct {
		name, version, want, errPart string
	}{
		{"this platform", "24.21.0", wantSums[platform], ""},
		{"no build for this platform", "24.22.0", "", "Node 24.22.0 on file://" + dir + " has no build for " + platform},
		{"unknown version", "24.99.0", "", "Node 24.99.0 is not on file://" + dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SumFor(context.Background(), "file://"+dir, tc.version)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err = %v; want it to contain %q", err, tc.errPart)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
