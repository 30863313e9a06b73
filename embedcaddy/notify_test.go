//go:build linux

package embedcaddy

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestNoSDNotify re-runs the test binary with NOTIFY_SOCKET set (Caddy
// reads it at init) and checks that Start, Reload and Stop send nothing:
// the child's own final marker must be the only datagram.
func TestNoSDNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, notifyChildEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for the child's marker: %v", err)
		}
		msg := string(buf[:n])
		if msg == "X-EMBEDCADDY-DONE=1" {
			return
		}
		t.Errorf("caddy sent %q to NOTIFY_SOCKET", msg)
	}
}

// notifyChild runs in the re-executed binary: Start, Reload, Stop in
// internal mode, then the marker through the same socket.
func notifyChild() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	if os.Getenv("NOTIFY_SOCKET") == "" { // still set for the daemon's own sdnotify
		return fail(fmt.Errorf("NOTIFY_SOCKET is unset"))
	}
	dir, err := os.MkdirTemp("", "embedcaddy-notify-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	port := func() int {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	o := Options{Mode: ModeInternal, Domains: []string{"claw.localhost"}, ListenHost: "127.0.0.1",
		HTTPPort: port(), HTTPSPort: port(), GatewayPort: port(), StorageDir: dir}
	s, err := New(o)
	if err != nil {
		return fail(err)
	}
	if err := s.Start(context.Background()); err != nil {
		return fail(err)
	}
	o.Domains = append(o.Domains, "second.localhost")
	if err := s.Reload(o); err != nil {
		return fail(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		return fail(err)
	}
	c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("X-EMBEDCADDY-DONE=1")); err != nil {
		return fail(err)
	}
	return 0
}
