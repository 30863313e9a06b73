package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// TestHTTPSInFront runs openclawd with tls.mode internal on one network
// host and a client on another: the client trusts the root certificate
// status names, gets the gateway's own answers through Caddy, sees the
// starting page while the gateway is down, and gets through again after.
func TestHTTPSInFront(t *testing.T) {
	t.Parallel()
	fe := newFrontEnd(t, false)
	in := newInstance(t, opts{netns: fe.srv, extraCfg: fe.tlsConfig()})
	st := fe.waitServed(t, in)
	if st.TLS.Mode != "internal" || st.TLS.RootCert == "" {
		t.Fatalf("status tls = %+v; want internal mode with a root certificate", st.TLS)
	}
	hc := fe.client(t)
	fe.checkAuthThroughProxy(t, in)

	resp, err := hc.Get("https://" + fe.name + "/.well-known/openclawd/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("health endpoint %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}

	// The gateway's side matches: it accepts the https origin.
	b, _ := os.ReadFile(filepath.Join(in.dir, "state", "openclaw", "openclaw.json"))
	if !strings.Contains(string(b), `"allowedOrigins": [`) || !strings.Contains(string(b), "https://"+fe.name) {
		t.Errorf("openclaw.json lacks allowedOrigins/publicOrigin https://%s:\n%s", fe.name, b)
	}

	// An outage shows the starting page, not a raw 502.
	in.setMode("exit78")
	in.cue("exit?code=1") // crash: the restart hits the bad config and fails
	in.waitStatus("failed", 30*time.Second, func(s apitype.Status, _ int) bool { return s.Gateway.State == "failed" })
	resp, err = hc.Get("https://" + fe.name + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("during the outage: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// Recovery: the client gets through again.
	in.setMode("normal")
	in.cli("restart", "--socket", in.sock)
	in.waitHealthy()
	var last string
	fgtest.WaitFor(t, 30*time.Second, "a wss:// handshake after recovery", func() bool {
		last, _ = fe.connect(t, hc, wsClient{token: in.token()})
		return last == "hello-ok scopes=0"
	})

	out, _ := in.cli("status", "--socket", in.sock)
	for _, want := range []string{"https      internal; " + fe.name, "root cert", "remote     wss://" + fe.name + ": ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("human status lacks %q:\n%s", want, out)
		}
	}
}

// TestACMEInFront is the whole path of a VPS: a certificate from an ACME CA
// (Pebble, validating over the test network), a remote client verifying it
// against the CA's root, and no new order after openclawd restarts.
func TestACMEInFront(t *testing.T) {
	t.Parallel()
	fe := newFrontEnd(t, true)
	in := newInstance(t, opts{netns: fe.srv, extraCfg: fe.tlsConfig(), env: fe.env()})
	st := fe.waitServed(t, in)
	cert := st.TLS.Names[0]
	if st.TLS.Mode != "acme" || !strings.Contains(cert.Issuer, "Pebble") || cert.DaysLeft < 80 {
		t.Errorf("status tls = %+v, name %+v; want acme, issued by Pebble, ~90 days left", st.TLS, cert)
	}
	fe.checkAuthThroughProxy(t, in)
	serial := servedSerial(t, fe)
	orders := fe.pebble.Orders()

	// http:// redirects to https:// for remote clients.
	hc := fe.client(t)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get("http://" + fe.name + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || loc != "https://"+fe.name+"/x" {
		t.Errorf("http:// answered %d Location %q; want a redirect to https://%s/x", resp.StatusCode, loc, fe.name)
	}

	// A restart keeps the certificate: same serial, no new order.
	if rc := in.stop(); rc != 0 {
		t.Fatalf("openclawd exited %d on SIGTERM", rc)
	}
	in.start(fe.env()...)
	fe.waitServed(t, in)
	if got := servedSerial(t, fe); got != serial {
		t.Errorf("serial %s after restart, want %s", got, serial)
	}
	if n := fe.pebble.Orders() - orders; n != 0 {
		t.Errorf("%d new ACME orders after a restart, want 0", n)
	}
}

// servedSerial is the serial of the certificate a remote client is served.
func servedSerial(t *testing.T, fe *frontEnd) string {
	t.Helper()
	hc := fe.client(t)
	resp, err := hc.Get("https://" + fe.name + "/.well-known/openclawd/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cs *tls.ConnectionState = resp.TLS
	if cs == nil || len(cs.PeerCertificates) == 0 {
		t.Fatal("no TLS state")
	}
	return fmt.Sprintf("%x", cs.PeerCertificates[0].SerialNumber)
}

// TestReload: `openclawd reload` says whether the config took. A bad file
// is named with its line and changes nothing; a good one applies.
func TestReload(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{})
	in.waitHealthy()
	good, err := os.ReadFile(in.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cfg    string
		wantRC int
		want   string
	}{
		{name: "unknown key", cfg: string(good) + "bogus_key: 1\n", wantRC: 1, want: "bogus_key: unknown key"},
		{name: "valid", cfg: strings.Replace(string(good), "max_delay: 1s", "max_delay: 2s", 1), wantRC: 0, want: "config reloaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(in.cfg, []byte(tt.cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			out, rc := in.cli("reload", "--socket", in.sock)
			if rc != tt.wantRC || !strings.Contains(out, tt.want) {
				t.Errorf("reload: rc %d, %q; want rc %d and %q", rc, out, tt.wantRC, tt.want)
			}
			if st, rc := in.status(); rc != 0 || !st.Healthy {
				t.Errorf("status rc %d after reload; the gateway must stay up", rc)
			}
		})
	}
}

// TestHTTPSPortTaken: a taken https port stops openclawd before the
// gateway starts, naming the holder.
func TestHTTPSPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	in := newInstance(t, opts{noStart: true, extraCfg: fmt.Sprintf("tls:\n  mode: internal\n  domain: [claw.example.com]\n  listen: 127.0.0.1\n  https_port: %d\n  http_port: %d\n", port, freePort(t))})
	in.start()
	select {
	case <-in.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("openclawd kept running with its https port taken")
	}
	if rc := in.cmd.ProcessState.ExitCode(); rc == 0 {
		t.Errorf("exit code 0 with the https port taken")
	}
	errText := in.stderr.String()
	// openclawd runs as nobody and cannot read root's fds: it names the
	// holder by uid (and `ss -ltnp` in the fix).
	if want := fmt.Sprintf("port %d (tls.https_port) is already in use by a process of uid 0 (root)", port); !strings.Contains(errText, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errText)
	}
	if starts := in.eventLines("start"); len(starts) != 0 {
		t.Errorf("the gateway was started: %q", starts)
	}
}
