package e2e

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadyWhileBackingOff: a gateway that can't stay up must not hold
// READY=1 back, or systemd kills openclawd at its start timeout and starts
// the same failure again, every few minutes. openclawd says READY once it
// can report why, with the reason in STATUS=.
func TestReadyWhileBackingOff(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{noStart: true})
	b, err := os.ReadFile(in.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`(?m)^  command: .*$`).ReplaceAllString(string(b), `  command: ["/bin/false"]`)
	if err := os.WriteFile(in.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(in.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := os.Chmod(sock, 0o666); err != nil { // openclawd sends as the service user
		t.Fatal(err)
	}
	in.start("NOTIFY_SOCKET=" + sock)

	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	var seen []string
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no READY=1 within 30s; got %q: %v\n%s", seen, err, in.stderr.String())
		}
		msg := string(buf[:n])
		seen = append(seen, msg)
		if strings.Contains(msg, "READY=1") {
			if !strings.Contains(msg, "STATUS=gateway backoff") {
				t.Errorf("READY came with %q; want the backoff named in STATUS", msg)
			}
			break
		}
	}
	if st, rc := in.status(); rc != 1 || st.Healthy {
		t.Errorf("status rc %d healthy %v; want 1 and unhealthy: READY means openclawd reports, not that the gateway is well", rc, st.Healthy)
	}
}
