package privdrop

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openclawd/openclawd/internal/account"
)

// TestHelper is the child: it reports who it runs as and exits with
// PRIVDROP_EXIT.
func TestHelper(t *testing.T) {
	if os.Getenv("PRIVDROP_HELPER") != "1" {
		t.Skip("the re-executed child of TestRun")
	}
	status, _ := os.ReadFile("/proc/self/status")
	var amb string
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "CapAmb:") {
			amb = strings.TrimSpace(strings.TrimPrefix(l, "CapAmb:"))
		}
	}
	fmt.Printf("uid=%d gid=%d amb=%s user=%s sudo=%q\n", os.Geteuid(), os.Getegid(), amb, os.Getenv("USER"), os.Getenv("SUDO_USER"))
	rc, _ := strconv.Atoi(os.Getenv("PRIVDROP_EXIT"))
	os.Exit(rc)
}

func TestRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change users")
	}
	nobody, err := account.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	// The test binary sits in a 0700 build dir: run a copy nobody can reach.
	dir, err := os.MkdirTemp("", "privdrop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "privdrop.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst.Close()
	old := executable
	executable = func() (string, error) { return bin, nil }
	t.Cleanup(func() { executable = old })
	t.Setenv("SUDO_USER", "admin")

	tests := []struct {
		name    string
		bind    bool
		exit    int
		wantAmb string
	}{
		{"drops to nobody, no capabilities", false, 0, "0000000000000000"},
		{"keeps only CAP_NET_BIND_SERVICE", true, 0, "0000000000000400"},
		{"passes the exit code on", false, 7, "0000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			rc, err := Run(nobody, []string{"-test.run=^TestHelper$"}, Options{
				Env:    map[string]string{"PRIVDROP_HELPER": "1", "PRIVDROP_EXIT": strconv.Itoa(tt.exit)},
				Stdout: &out, Stderr: &out, BindPrivileged: tt.bind,
			})
			if err != nil || rc != tt.exit {
				t.Fatalf("Run = %d, %v; want %d (output %q)", rc, err, tt.exit, out.String())
			}
			want := fmt.Sprintf("uid=%d gid=%d amb=%s user=nobody sudo=\"\"", nobody.UID, nobody.GID, tt.wantAmb)
			if !strings.Contains(out.String(), want) {
				t.Errorf("child said %q; want %q", out.String(), want)
			}
		})
	}
}
