package embedcaddy

import (
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/pebbletest"
)

// pebbleEnv is one Pebble for the whole test binary (internal/pebbletest,
// on loopback). Caddy is process-global, so the tests using it run one at
// a time anyway; Pebble validates on free ports, Caddy's HTTP and HTTPS.
type pebbleEnv struct {
	*pebbletest.Pebble
	httpPort, tlsPort int
}

var (
	pebbleOnce sync.Once
	pebble     *pebbleEnv
	pebbleErr  error
)

// shortLived is the validity of Pebble's "shortlived" profile.
const shortLived = 30 * time.Second

// needPebble starts Pebble on first use; -short skips the ACME tests.
func needPebble(t *testing.T) *pebbleEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("ACME tests build and run Pebble; skipped with -short")
	}
	pebbleOnce.Do(func() {
		e := &pebbleEnv{httpPort: freePort(t), tlsPort: freePort(t)}
		e.Pebble, pebbleErr = pebbletest.New(pebbletest.Options{HTTPPort: e.httpPort, TLSPort: e.tlsPort,
			Profiles: map[string]time.Duration{"shortlived": shortLived}})
		pebble = e
	})
	if pebbleErr != nil {
		t.Fatalf("starting pebble: %v", pebbleErr)
	}
	return pebble
}

func pebbleShutdown() {
	if pebble != nil && pebble.Pebble != nil {
		pebble.Close()
	}
}

// roots returns the pool of Pebble's issuing root (it changes per start).
func (p *pebbleEnv) roots(t *testing.T) *x509.CertPool { return p.IssuingRoots(t) }

// options returns ACME options aimed at this Pebble.
func (p *pebbleEnv) options(t *testing.T, domain string, gatewayPort int) Options {
	return Options{
		Mode: ModeACME, Domains: []string{domain}, Email: "test@openclawd.test",
		ACMECA: p.CAURL, ACMECARoot: p.APIRootFile, ListenHost: "127.0.0.1",
		// Pebble picks a random profile for orders that name none.
		ACMEProfile: "default",
		HTTPPort:    p.httpPort, HTTPSPort: p.tlsPort, GatewayPort: gatewayPort,
		StorageDir: t.TempDir(),
	}
}
