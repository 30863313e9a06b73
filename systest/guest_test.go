//go:build systest && linux

package systest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/openclawd/openclawd/internal/testnet"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// status runs `openclawd status --json` in the guest: the JSON and the
// exit code (0 healthy, 1 unhealthy, 3 not running).
func (m *machine) status() (apitype.Status, int, error) {
	out, err := m.g("openclawd", "status", "--json")
	var st apitype.Status
	if jerr := json.Unmarshal([]byte(out), &st); jerr != nil && err == nil {
		err = fmt.Errorf("status --json: %v: %q", jerr, out)
	}
	return st, exitCode(err), err
}

// waitHealthy waits, with no command but polling, until systemd says the
// unit is active and `openclawd status` exits 0 with a condition of cond.
func (m *machine) waitHealthy(what string, timeout time.Duration, cond func(apitype.Status) bool) apitype.Status {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	var (
		st     apitype.Status
		rc     int
		active string
	)
	for {
		active, _ = m.g("systemctl", "is-active", "openclawd")
		if active == "active" {
			st, rc, _ = m.status()
			if rc == 0 && st.Healthy && (cond == nil || cond(st)) {
				return st
			}
		}
		if time.Now().After(deadline) {
			human, _ := m.g("openclawd", "status")
			m.t.Fatalf("%s: not within %v: unit %q, status rc %d:\n%s", what, timeout, active, rc, human)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *machine) mainPID() int {
	m.t.Helper()
	n, err := strconv.Atoi(m.must("systemctl", "show", "-p", "MainPID", "--value", "openclawd"))
	if err != nil {
		m.t.Fatal(err)
	}
	return n
}

// stateSums hashes the files under the guest's dirs that must survive a
// reboot or an upgrade unchanged (token, gateway state, certificates).
func (m *machine) stateSums(dirs ...string) map[string]string {
	m.t.Helper()
	sums := map[string]string{}
	for _, d := range dirs {
		root := m.hostPath(d)
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			sums[strings.TrimPrefix(p, m.root)] = hex.EncodeToString(h[:])
			return nil
		})
		if err != nil {
			m.t.Fatalf("hashing %s: %v", d, err)
		}
	}
	if len(sums) == 0 {
		m.t.Fatalf("no state files under %v", dirs)
	}
	return sums
}

func diffSums(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, k+" (new)")
		}
	}
	sort.Strings(d)
	return d
}

// frontEnd is openclawd's HTTPS as a client on another host sees it:
// connections from the client namespace to the guest, names verified
// against Pebble's issuing root.
type frontEnd struct {
	cli   *testnet.Host
	srvIP string
	name  string
	roots *x509.CertPool
}

func (f frontEnd) client(h2 bool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return f.cli.DialContext(ctx, "tcp", net.JoinHostPort(f.srvIP, port))
		},
		TLSClientConfig:   &tls.Config{RootCAs: f.roots, ServerName: f.name},
		ForceAttemptHTTP2: h2,
	}}
}

// cert is what a client got: the leaf's SHA-256 and serial.
type cert struct{ fingerprint, serial string }

// get fetches https://name/ over HTTP/2 and checks the gateway answered.
func (f frontEnd) get() (cert, error) {
	resp, err := f.client(true).Get("https://" + f.name + "/")
	if err != nil {
		return cert{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || !strings.Contains(string(body), "OpenClaw") {
		return cert{}, fmt.Errorf("GET https://%s/: %s %s: %.200s", f.name, resp.Proto, resp.Status, body)
	}
	leaf := resp.TLS.PeerCertificates[0]
	h := sha256.Sum256(leaf.Raw)
	return cert{fingerprint: hex.EncodeToString(h[:]), serial: leaf.SerialNumber.Text(16)}, nil
}

// wss completes the gateway's connect handshake over wss:// with the
// token and the browser origin openclawd allowed, as the Control UI does.
func (f frontEnd) wss(token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://"+f.name+"/", &websocket.DialOptions{
		HTTPClient: f.client(false),
		HTTPHeader: http.Header{"Origin": {"https://" + f.name}},
	})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	var frame struct{ Event string }
	if _, b, err := c.Read(ctx); err != nil || json.Unmarshal(b, &frame) != nil || frame.Event != "connect.challenge" {
		return fmt.Errorf("no connect.challenge: %v %.200s", err, b)
	}
	req := fmt.Sprintf(`{"type":"req","id":"1","method":"connect","params":{"minProtocol":4,"maxProtocol":4,"client":{"id":"openclaw-control-ui","version":"0.0.1","platform":"linux","mode":"webchat"},"role":"operator","scopes":["operator.read"],"auth":{"token":%q}}}`, token)
	if err := c.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
		return err
	}
	_, b, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"hello-ok"`) {
		return fmt.Errorf("no hello-ok: %v %.300s", err, b)
	}
	return nil
}

// waitCert polls until the front end serves a verified certificate.
func (f frontEnd) waitCert(t testing.TB, timeout time.Duration) cert {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := f.get()
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("https://%s/ from the client host: %v", f.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// steps runs dependent steps as subtests, in order. A step that stops
// (t.Fatal) ends the sequence: later steps would only fail for the same
// reason; one that only reports errors lets the next ones run. The machine
// reports to the running step.
func steps(t *testing.T, m *machine, ss []step) {
	t.Helper()
	for _, s := range ss {
		finished := false
		t.Run(s.name, func(t *testing.T) {
			defer func(old testing.TB) { m.t = old }(m.t)
			m.t = t
			s.f(t)
			finished = true
		})
		if !finished {
			t.Fatalf("step %q failed; the steps after it depend on it", s.name)
		}
	}
}

type step struct {
	name string
	f    func(t *testing.T)
}

func poolOf(t testing.TB, pem []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %q", pem)
	}
	return pool
}
