//go:build linux

package embedcaddy

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// bindChildEnv makes the test binary run bindChild (TestPrivilegedPort).
const bindChildEnv = "EMBEDCADDY_BIND_CHILD"

// TestPrivilegedPort: without CAP_NET_BIND_SERVICE, binding 443 fails
// with the config key and how to grant it. The child runs as nobody.
func TestPrivilegedPort(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n <= 443 {
			t.Skipf("this kernel lets anyone bind %d and up", n)
		}
	}
	// nobody must reach the binary and a storage dir: copy both out of
	// the 0700 build directories.
	dir, err := os.MkdirTemp("", "embedcaddy-bind-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "embedcaddy.test")
	if err := copyFile(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), bindChildEnv+"="+dir, "HTTP_PORT="+strconv.Itoa(freePort(t)))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{"tls.https_port", "443", "CAP_NET_BIND_SERVICE", "above 1023"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Start's error lacks %q:\n%s", want, out)
		}
	}
}

// bindChild runs in the re-executed binary as nobody: Start on 443 must
// fail; the error goes to stdout.
func bindChild(dir string) int {
	port, _ := strconv.Atoi(os.Getenv("HTTP_PORT"))
	s, err := New(Options{Mode: ModeInternal, Domains: []string{"claw.localhost"}, ListenHost: "127.0.0.1",
		HTTPPort: port, HTTPSPort: 443, GatewayPort: 1, StorageDir: filepath.Join(dir, "storage")})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	if err := s.Start(context.Background()); err == nil {
		_ = s.Stop(context.Background())
		fmt.Println("Start succeeded on 443 without the capability")
		return 1
	} else {
		fmt.Println(err)
	}
	return 0
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
