// Package pebbletest runs Pebble, Let's Encrypt's test ACME server, with
// pebble-challtestsrv as its DNS, for tests: on loopback, or on a host of a
// private test network (internal/testnet), as system-tests.md §2.5 does.
// Both are built from the `tool` lines in go.mod (pinned v2.10.1).
package pebbletest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/testnet"
)

// Options place one Pebble.
type Options struct {
	Host        *testnet.Host // nil: loopback of the current namespace
	HTTPPort    int           // where Pebble validates http-01 (default 80)
	TLSPort     int           // where it validates tls-alpn-01 (default 443)
	DefaultIPv4 string        // what the mock DNS answers for every name (default the listen address)
	// Profiles are certificate profiles beyond "default" (90 days). With
	// any, Pebble picks one at random for orders that name none.
	Profiles map[string]time.Duration
}

// Pebble is a running CA.
type Pebble struct {
	CAURL       string // ACME directory
	APIRootFile string // PEM that Pebble's own HTTPS verifies against (tls.acme_ca_root)
	mgmt        string
	hc          *http.Client
	log         *orderLog
	dir         string
	procs       []*exec.Cmd
}

var build struct {
	once sync.Once
	dir  string
	err  error
}

// binaries builds pebble and pebble-challtestsrv once per test process.
func binaries() (string, error) {
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "pebbletest-bin-")
		if build.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", build.dir+string(filepath.Separator),
			"github.com/letsencrypt/pebble/v2/cmd/pebble", "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build pebble: %w\n%s", err, out)
		}
	})
	return build.dir, build.err
}

// Start runs Pebble until the test ends; it fails the test if it can't.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// New runs Pebble until Close, for tests that share one.
func New(o Options) (*Pebble, error) {
	if o.HTTPPort == 0 {
		o.HTTPPort = 80
	}
	if o.TLSPort == 0 {
		o.TLSPort = 443
	}
	bin, err := binaries()
	if err != nil {
		return nil, err
	}
	ip, dial := "127.0.0.1", (&net.Dialer{}).DialContext
	ports := []string{"14000", "15000", "8053", "8055"} // a namespace of its own
	if o.Host != nil {
		ip, dial = o.Host.IP.String(), o.Host.DialContext
	} else if ports, err = freePorts(4); err != nil { // loopback is shared with other tests
		return nil, err
	}
	if o.DefaultIPv4 == "" {
		o.DefaultIPv4 = ip
	}
	dir, err := os.MkdirTemp("", "pebbletest-")
	if err != nil {
		return nil, err
	}
	// openclawd runs as its service user in the tests too: it must read
	// the API root (cert.pem, 0644; the key stays 0600).
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	p := &Pebble{dir: dir, log: &orderLog{}}
	apiCert, err := selfSigned(dir, ip)
	if err != nil {
		p.Close()
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(apiCert)
	p.CAURL = "https://" + net.JoinHostPort(ip, ports[0]) + "/dir"
	p.APIRootFile = filepath.Join(dir, "cert.pem")
	p.mgmt = "https://" + net.JoinHostPort(ip, ports[1])
	p.hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
	profiles := map[string]any{"default": map[string]any{"validityPeriod": 90 * 24 * 3600}}
	for name, d := range o.Profiles {
		profiles[name] = map[string]any{"validityPeriod": int(d / time.Second)}
	}
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":           net.JoinHostPort(ip, ports[0]),
		"managementListenAddress": net.JoinHostPort(ip, ports[1]),
		"certificate":             filepath.Join(dir, "cert.pem"),
		"privateKey":              filepath.Join(dir, "key.pem"),
		"httpPort":                o.HTTPPort,
		"tlsPort":                 o.TLSPort,
		"ocspResponderURL":        "",
		"domainBlocklist":         []string{"blocked.openclawd.test"},
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"profiles":                profiles,
	}})
	if err := os.WriteFile(filepath.Join(dir, "pebble.json"), cfg, 0o600); err != nil {
		p.Close()
		return nil, err
	}
	dns := net.JoinHostPort(ip, ports[2])
	run := func(env []string, argv ...string) error {
		if o.Host != nil {
			argv = o.Host.Wrap(argv...)
		}
		c := exec.Command(argv[0], argv[1:]...)
		c.Env = append(os.Environ(), env...)
		c.Stdout, c.Stderr = p.log, p.log
		setPdeathsig(c)
		if err := c.Start(); err != nil {
			return err
		}
		p.procs = append(p.procs, c)
		return nil
	}
	err = run(nil, filepath.Join(bin, "pebble-challtestsrv"), "-dnsserver", dns, "-management", net.JoinHostPort(ip, ports[3]),
		"-defaultIPv4", o.DefaultIPv4, "-defaultIPv6", "", "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")
	if err == nil {
		// NOSLEEP: no random validation delay; NONCEREJECT=0: else 5% of
		// nonces fail; AUTHZREUSE=0: every order really does its challenge.
		err = run([]string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
			filepath.Join(bin, "pebble"), "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", dns)
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := p.get("/roots/0"); err == nil {
			return p, nil
		} else if time.Now().After(deadline) {
			p.Close()
			return nil, fmt.Errorf("pebble not up: %w\n%s", err, p.log)
		}
		time.Sleep(25 * time.Millisecond) // poll interval within the deadline
	}
}

// Close stops Pebble and removes its files.
func (p *Pebble) Close() {
	for _, c := range p.procs {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	p.procs = nil
	os.RemoveAll(p.dir)
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]string, error) {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		out = append(out, port)
	}
	return out, nil
}

// IssuingRoot returns the PEM of the root Pebble signs with (new per start).
func (p *Pebble) IssuingRoot(t testing.TB) []byte {
	t.Helper()
	b, err := p.get("/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// IssuingRoots is IssuingRoot as a pool.
func (p *Pebble) IssuingRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if root := p.IssuingRoot(t); !pool.AppendCertsFromPEM(root) {
		t.Fatalf("no PEM in /roots/0: %q", root)
	}
	return pool
}

// Orders counts the orders Pebble has accepted so far.
func (p *Pebble) Orders() int64 { return p.log.orders.Load() }

// Log is Pebble's output so far, for failure messages.
func (p *Pebble) Log() string { return p.log.String() }

func (p *Pebble) get(path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.mgmt+path, nil)
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", path, resp.Status)
	}
	return b, err
}

// selfSigned writes cert.pem and key.pem for Pebble's own HTTPS on ip
// (Debian's Pebble ships none, and the module's is for localhost only).
func selfSigned(dir, ip string) (*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "pebble"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// orderLog keeps Pebble's output and counts new orders in it.
type orderLog struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	orders atomic.Int64
}

func (l *orderLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.orders.Add(int64(bytes.Count(b, []byte("Added order"))))
	return l.buf.Write(b)
}

func (l *orderLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
