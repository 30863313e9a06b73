package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/testnet"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// srvCLI runs openclawd inside the server's namespace, where the gateway's
// loopback listener is.
func srvCLI(t *testing.T, fe *frontEnd, args ...string) (string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := fe.srv.Command(ctx, bins.openclawd, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode(), time.Since(start)
}

// newPairInstance is the real gateway, provisioned, then served by Caddy
// (internal CA) on the server host of a test network.
func newPairInstance(t *testing.T) (*instance, *frontEnd) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: npm runs as the unprivileged install user")
	}
	in := newRealInstance(t)
	in.start()
	in.waitStatus("the real gateway, healthy", 5*time.Minute, func(s apitype.Status, rc int) bool { return rc == 0 && s.Healthy })
	in.stop()
	fe := newFrontEnd(t, false)
	b, err := os.ReadFile(in.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.cfg, append(b, "\n"+fe.tlsConfig()...), 0o644); err != nil {
		t.Fatal(err)
	}
	in.netns = fe.srv
	in.start(fe.env()...)
	fe.waitServed(t, in)
	return in, fe
}

// TestPairResearch records what the real gateway's pairing CLI prints
// (docs/pairing.md). Run by hand: go test -run TestPairResearch -v ./e2e/
func TestPairResearch(t *testing.T) {
	if os.Getenv("OPENCLAWD_PAIR_RESEARCH") == "" {
		t.Skip("set OPENCLAWD_PAIR_RESEARCH=1 to print the CLI's output")
	}
	in, fe := newPairInstance(t)
	for _, args := range [][]string{
		{"--help"}, {"dashboard", "--help"}, {"devices", "--help"},
		{"dashboard", "--no-open", "--json"},
		{"devices", "list", "--json"},
		{"devices", "approve", "--help"}, {"devices", "reject", "--help"}, {"devices", "revoke", "--help"}, {"devices", "remove", "--help"},
	} {
		out, rc, d := srvCLI(t, fe, append([]string{"openclaw", "--config", in.cfg}, args...)...)
		out = strings.ReplaceAll(out, in.token(), "<gateway token>") // dashboard's url field holds it
		t.Logf("RESEARCH %v rc=%d took=%s\n%s", args, rc, d.Round(time.Millisecond), out)
	}
}

// devicesNow is `openclawd devices list --json` on the server.
type devicesNow struct {
	Pending []struct {
		RequestID string `json:"requestId"`
		DeviceID  string `json:"deviceId"`
		IP        string `json:"ip"`
	} `json:"pending"`
	Paired []struct {
		DeviceID string   `json:"deviceId"`
		IP       string   `json:"ip"`
		Scopes   []string `json:"scopes"`
	} `json:"paired"`
}

func listDevices(t *testing.T, fe *frontEnd, in *instance) devicesNow {
	t.Helper()
	out, rc, _ := srvCLI(t, fe, "devices", "list", "--json", "--config", in.cfg)
	var d devicesNow
	if rc != 0 || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("devices list --json (rc %d):\n%s", rc, out)
	}
	return d
}

// browse opens url in headless Chromium on the client host, which reaches
// the front end's name at the server's address; it runs until the test ends.
// The internal CA's root is not installed (no certutil here), so
// certificate errors are ignored: the name and path are still the real ones.
func browse(t *testing.T, fe *frontEnd, url string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	cmd := fe.cli.Command(ctx, "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--ignore-certificate-errors", "--user-data-dir="+dir, "--remote-debugging-port=0",
		"--host-resolver-rules=MAP "+fe.name+" "+testnet.Server, url)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("chromium output:\n%s", log.String())
		}
	})
}

// waitDevices polls devices list until cond holds.
func waitDevices(t *testing.T, fe *frontEnd, in *instance, d time.Duration, what string, cond func(devicesNow) bool) devicesNow {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		l := listDevices(t, fe, in)
		if cond(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %s for %s; last: %+v", d, what, l)
		}
		// Each list is a cold start of the openclaw CLI (~3 s): no sleep needed.
	}
}

// TestPairBrowser: `openclawd pair` gives a link that pairs a real browser
// through Caddy in one step; the link works once; a browser without it
// waits as a pending request until `openclawd devices approve <id>`.
func TestPairBrowser(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Skip("needs chromium (.ci/run installs it)")
	}
	in, fe := newPairInstance(t)
	cliIP := fe.cli.IP.String()

	start := time.Now()
	out, rc, took := srvCLI(t, fe, "pair", "--json", "--config", in.cfg)
	var p struct {
		Link      string    `json:"link"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if rc != 0 || json.Unmarshal([]byte(out), &p) != nil {
		t.Fatalf("pair --json (rc %d):\n%s", rc, out)
	}
	t.Logf("pair took %s; expires in %s", took.Round(time.Millisecond), time.Until(p.ExpiresAt).Round(time.Second))
	if !strings.HasPrefix(p.Link, "https://"+fe.name+"/#") || !strings.Contains(p.Link, "bootstrapToken=") ||
		!strings.Contains(p.Link, "gatewayUrl=wss%3A%2F%2F"+fe.name) {
		t.Fatalf("link %q; want the public origin, a bootstrap token and a wss gatewayUrl", p.Link)
	}
	if strings.Contains(out, in.token()) {
		t.Fatal("pair printed the gateway token")
	}
	if d := time.Until(p.ExpiresAt); d < 5*time.Minute || d > 11*time.Minute {
		t.Errorf("expires in %s; want about ten minutes", d)
	}
	browse(t, fe, p.Link)
	paired := waitDevices(t, fe, in, 2*time.Minute, "the browser paired", func(l devicesNow) bool {
		for _, d := range l.Paired {
			if d.IP == cliIP {
				return true
			}
		}
		return false
	})
	t.Logf("FIGURE pair_to_connected=%s", time.Since(start).Round(100*time.Millisecond))
	t.Logf("paired: %+v", paired.Paired)
	if len(paired.Paired) != 1 || !slices.Contains(paired.Paired[0].Scopes, "operator.admin") {
		t.Errorf("paired %+v; want one device, the owner (operator.admin)", paired.Paired)
	}

	t.Run("human output", func(t *testing.T) {
		out, rc, _ := srvCLI(t, fe, "pair", "--config", in.cfg)
		if rc != 0 || !strings.Contains(out, "works once") || !strings.Contains(out, "https://"+fe.name+"/#bootstrapToken=") ||
			!strings.Contains(out, "█") || strings.Contains(out, in.token()) {
			t.Errorf("pair (rc %d):\n%s", rc, out)
		}
	})

	// The spent link: the gateway refuses the bootstrap token ("setup code
	// invalid, expired, revoked, or already used"), so nothing new pairs.
	t.Run("second use of the link", func(t *testing.T) {
		mark := len(in.stderr.String())
		browse(t, fe, p.Link)
		deadline := time.Now().Add(90 * time.Second)
		for !strings.Contains(in.stderr.String()[mark:], "reason=bootstrap_token_invalid") {
			if time.Now().After(deadline) {
				t.Fatalf("no refusal of the spent link in the log after 90s:\n%s", in.stderr.String()[mark:])
			}
			time.Sleep(100 * time.Millisecond) // poll interval of a condition wait
		}
		if l := listDevices(t, fe, in); len(l.Paired) != len(paired.Paired) {
			t.Fatalf("the spent link paired another device: %+v", l.Paired)
		}
	})

	// Without the link, a browser given the gateway token (pasted in the
	// Control UI, here in the fragment) waits as a pending request until
	// approved by id.
	t.Run("pending until approved", func(t *testing.T) {
		browse(t, fe, "https://"+fe.name+"/#token="+in.token())
		l := waitDevices(t, fe, in, 90*time.Second, "a pending request from the browser", func(l devicesNow) bool {
			return len(l.Pending) > 0
		})
		if l.Pending[0].IP != cliIP {
			t.Errorf("pending request from %q; want %s", l.Pending[0].IP, cliIP)
		}
		out, rc, _ := srvCLI(t, fe, "devices", "approve", l.Pending[0].RequestID, "--config", in.cfg)
		if rc != 0 || !strings.Contains(out, "approved "+l.Pending[0].RequestID) {
			t.Fatalf("devices approve (rc %d): %s", rc, out)
		}
		waitDevices(t, fe, in, time.Minute, "the approved browser paired", func(l devicesNow) bool {
			return len(l.Paired) == len(paired.Paired)+1 && len(l.Pending) == 0
		})
	})
}
