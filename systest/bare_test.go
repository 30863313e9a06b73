//go:build systest && linux

package systest

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBareGuest proves the harness on a guest with nothing installed:
// boot, the private network and its isolation, commands, a reboot and a
// clean teardown (asserted by the machine's and network's cleanups).
func TestBareGuest(t *testing.T) {
	needSystem(t)
	t.Parallel()
	nw := newNetwork(t)
	m := newMachine(t, nw.srv)
	start := time.Now()
	m.boot()
	if err := m.waitRunning("", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("bare guest: boot to running %v", time.Since(start).Round(time.Millisecond))

	t.Run("systemd is PID 1 with its own machine id", func(t *testing.T) {
		if comm := m.must("cat", "/proc/1/comm"); comm != "systemd" {
			t.Errorf("PID 1 is %q", comm)
		}
		id := m.must("cat", "/etc/machine-id")
		if len(id) != 32 || id == strings.Repeat("0", 32) {
			t.Errorf("machine id %q", id)
		}
	})

	t.Run("exit codes pass through", func(t *testing.T) {
		if _, err := m.g("sh", "-c", "exit 7"); exitCode(err) != 7 {
			t.Errorf("exit 7 came back as %v", err)
		}
		if out := m.must("pwd"); out != "/" {
			t.Errorf("cwd %q", out)
		}
	})

	t.Run("network", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			argv    []string
			want    string
			wantErr bool
		}{
			{"no default route v4", []string{"ip", "-n", nw.srv.NS, "route", "show", "default"}, "", false},
			{"no default route v6", []string{"ip", "-n", nw.srv.NS, "-6", "route", "show", "default"}, "", false},
			{"outside the test net is unreachable", []string{"ip", "-n", nw.srv.NS, "route", "get", "198.19.255.1"}, "unreachable", true},
			{"the root netns has no test address", []string{"sh", "-c", "ip -o addr | grep -E '198\\.1[89]\\.|fd5e:7e57' || true"}, "", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, err := exec.Command(tc.argv[0], tc.argv[1:]...).CombinedOutput()
				if (err != nil) != tc.wantErr || !strings.Contains(string(out), tc.want) || (tc.want == "" && len(strings.TrimSpace(string(out))) > 0) {
					t.Errorf("%s: err %v, output %q", strings.Join(tc.argv, " "), err, out)
				}
			})
		}
		if addr := m.must("ip", "-o", "-4", "addr", "show", "dev", "eth0"); !strings.Contains(addr, "198.18.0.2/24") {
			t.Errorf("guest eth0: %s", addr)
		}
		// The bridge carries guest -> client traffic.
		ln, err := nw.cli.Listen("tcp", "198.18.0.10:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
				c.Close()
			}
		}()
		url := fmt.Sprintf("http://%s/", ln.Addr().(*net.TCPAddr))
		if out, err := m.g("curl", "-sS", "--max-time", "10", url); err != nil || out != "hello" {
			t.Errorf("guest -> client: %q %v", out, err)
		}
	})

	t.Run("reboot", func(t *testing.T) {
		old := m.bootID()
		start := time.Now()
		m.reboot()
		t.Logf("bare guest: reboot to running %v", time.Since(start).Round(time.Millisecond))
		if m.bootID() == old {
			t.Error("same boot id after reboot")
		}
		if rc := m.exitCodes(); len(rc) != 1 || rc[0] != "133" {
			t.Errorf("nspawn exit codes %q; want one 133", rc)
		}
		boots := m.must("journalctl", "-q", "--list-boots", "--no-pager")
		if n := len(strings.Split(boots, "\n")); n != 2 {
			t.Errorf("%d boots in the journal; want 2:\n%s", n, boots)
		}
	})
}
