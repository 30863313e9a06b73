package embedcaddy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pebbleEnv is one Pebble + challtestsrv for the whole test binary, built
// from the `tool` lines in go.mod (pinned v2.10.1) into a temp dir. Caddy is
// process-global, so the tests using it run one at a time anyway; the ports
// are free ones, so parallel test binaries don't collide.
type pebbleEnv struct {
	dir                string
	caURL, rootPEMFile string // ACME directory; minica root for Pebble's own HTTPS
	httpPort, tlsPort  int    // where Pebble validates: Caddy's HTTP/HTTPS ports
	mgmt               string // management API base URL
	orders             atomic.Int64
	procs              []*exec.Cmd
	out                *pebbleLog
}

var (
	pebbleOnce sync.Once
	pebble     *pebbleEnv
	pebbleErr  error
)

// needPebble starts Pebble on first use; -short skips the ACME tests.
func needPebble(t *testing.T) *pebbleEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("ACME tests build and run Pebble; skipped with -short")
	}
	pebbleOnce.Do(func() { pebble, pebbleErr = startPebble(t) })
	if pebbleErr != nil {
		t.Fatalf("starting pebble: %v", pebbleErr)
	}
	return pebble
}

func pebbleShutdown() {
	if pebble == nil {
		return
	}
	for _, c := range pebble.procs {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	os.RemoveAll(pebble.dir)
}

func startPebble(t *testing.T) (*pebbleEnv, error) {
	dir, err := os.MkdirTemp("", "embedcaddy-pebble-")
	if err != nil {
		return nil, err
	}
	p := &pebbleEnv{dir: dir, out: &pebbleLog{}}
	p.out.orders = &p.orders
	start := time.Now()
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/letsencrypt/pebble/v2/cmd/pebble", "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build pebble: %w\n%s", err, out)
	}
	modDir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
	if err != nil {
		return nil, fmt.Errorf("locating pebble in the module cache: %w", err)
	}
	certs := filepath.Join(strings.TrimSpace(string(modDir)), "test", "certs")
	p.rootPEMFile = filepath.Join(certs, "pebble.minica.pem")
	t.Logf("pebble built in %v", time.Since(start).Round(time.Millisecond))

	dns, dnsMgmt, acme, mgmt := freePort(t), freePort(t), freePort(t), freePort(t)
	p.httpPort, p.tlsPort = freePort(t), freePort(t)
	p.caURL = fmt.Sprintf("https://127.0.0.1:%d/dir", acme)
	p.mgmt = fmt.Sprintf("https://127.0.0.1:%d", mgmt)
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":           "127.0.0.1:" + strconv.Itoa(acme),
		"managementListenAddress": "127.0.0.1:" + strconv.Itoa(mgmt),
		"certificate":             filepath.Join(certs, "localhost", "cert.pem"),
		"privateKey":              filepath.Join(certs, "localhost", "key.pem"),
		"httpPort":                p.httpPort,
		"tlsPort":                 p.tlsPort,
		"ocspResponderURL":        "",
		"domainBlocklist":         []string{"blocked.openclawd.test"},
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"profiles": map[string]any{
			"default":    map[string]any{"validityPeriod": 7776000},
			"shortlived": map[string]any{"validityPeriod": shortLived / time.Second},
		},
	}})
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		return nil, err
	}
	run := func(name string, env []string, args ...string) error {
		c := exec.Command(filepath.Join(dir, name), args...)
		c.Env = append(os.Environ(), env...)
		c.Stdout, c.Stderr = p.out, p.out
		setPdeathsig(c)
		if err := c.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", name, err)
		}
		p.procs = append(p.procs, c)
		return nil
	}
	dnsAddr := "127.0.0.1:" + strconv.Itoa(dns)
	if err := run("pebble-challtestsrv", nil, "-dnsserver", dnsAddr, "-management", "127.0.0.1:"+strconv.Itoa(dnsMgmt),
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", ""); err != nil {
		return nil, err
	}
	// NOSLEEP: no random validation delay; NONCEREJECT=0: else 5% of nonces
	// fail; AUTHZREUSE=0: every order really exercises its challenge.
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}
	if err := run("pebble", env, "-config", cfgFile, "-dnsserver", dnsAddr); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		_, err := p.get("/roots/0")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("pebble not up: %w\n%s", err, p.out)
		}
	}
	t.Logf("pebble up in %v: acme %s, http-01 port %d, tls-alpn-01 port %d", time.Since(start).Round(time.Millisecond), p.caURL, p.httpPort, p.tlsPort)
	return p, nil
}

// shortLived is the validity of Pebble's "shortlived" profile.
const shortLived = 30 * time.Second

// get fetches a management API path over Pebble's minica-signed HTTPS.
func (p *pebbleEnv) get(path string) ([]byte, error) {
	pem, err := os.ReadFile(p.rootPEMFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(p.mgmt + path)
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

// roots returns the pool of Pebble's issuing root (it changes per start).
func (p *pebbleEnv) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	b, err := p.get("/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("no PEM in /roots/0: %q", b)
	}
	return pool
}

// options returns ACME options aimed at this Pebble.
func (p *pebbleEnv) options(t *testing.T, domain string, gatewayPort int) Options {
	return Options{
		Mode: ModeACME, Domains: []string{domain}, Email: "test@openclawd.test",
		ACMECA: p.caURL, ACMECARoot: p.rootPEMFile, ListenHost: "127.0.0.1",
		// Pebble picks a random profile for orders that name none.
		ACMEProfile: "default",
		HTTPPort:    p.httpPort, HTTPSPort: p.tlsPort, GatewayPort: gatewayPort,
		StorageDir: t.TempDir(),
	}
}

// pebbleLog keeps Pebble's output and counts new orders from its log.
type pebbleLog struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	orders *atomic.Int64
}

func (l *pebbleLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.orders.Add(int64(bytes.Count(b, []byte("Added order"))))
	return l.buf.Write(b)
}

func (l *pebbleLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
