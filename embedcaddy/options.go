package embedcaddy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// Mode selects how the front end gets its certificates.
type Mode string

const (
	ModeACME     Mode = "acme"     // public CA (Let's Encrypt by default) via http-01 / tls-alpn-01
	ModeInternal Mode = "internal" // Caddy's local CA; clients must trust RootCertPath
	ModeOff      Mode = "off"      // no front end: Start is a no-op, nothing listens
)

// Default ports of the public listeners.
const (
	DefaultHTTPPort  = 80
	DefaultHTTPSPort = 443
)

// Options configures the front end. The zero Mode means ModeOff.
type Options struct {
	Mode       Mode
	Domains    []string // public names (acme, internal); internal also takes IPs
	Email      string   // ACME account contact (acme)
	ACMECA     string   // ACME directory URL; empty: Let's Encrypt production
	ACMECARoot string   // PEM file trusted for the ACME CA's own HTTPS (tests)

	HTTPPort   int    // redirects and http-01 (default 80)
	HTTPSPort  int    // TLS, tls-alpn-01 (default 443)
	ListenHost string // bind address; "" means all addresses

	GatewayPort int    // the gateway listens on 127.0.0.1:GatewayPort
	StorageDir  string // <state_dir>/caddy: certificates, ACME account, local CA

	Healthy func() bool  // nil means always healthy (dial failures still give the 503 page)
	Logger  *slog.Logger // nil means a text handler on stderr

	// ACMEProfile asks the CA for a certificate profile by name, e.g.
	// Let's Encrypt's "shortlived"; empty is the CA's default.
	ACMEProfile string
	// RenewInterval is how often certificates are checked for renewal
	// (Caddy's default 10m); tests with seconds-long certificates shorten it.
	RenewInterval time.Duration

	// Tests that must exercise exactly one challenge type.
	DisableTLSALPN, DisableHTTPChallenge bool
}

// withDefaults fills in ports and the mode; Validate and ConfigJSON see it.
func (o Options) withDefaults() Options {
	if o.Mode == "" {
		o.Mode = ModeOff
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = DefaultHTTPPort
	}
	if o.HTTPSPort == 0 {
		o.HTTPSPort = DefaultHTTPSPort
	}
	return o
}

// Validate reports every problem at once, each naming the config key and
// the fix. It only inspects o: no file system or network access.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch o.Mode {
	case ModeOff:
		return nil
	case ModeACME, ModeInternal:
	default:
		bad("tls.mode", "%q is not a mode: use acme, internal or off", o.Mode)
		return errors.Join(errs...)
	}

	if len(o.Domains) == 0 {
		bad("tls.domain", "required for tls.mode %s: set the public DNS name of this host", o.Mode)
	}
	seen := map[string]bool{}
	for _, d := range o.Domains {
		if seen[strings.ToLower(d)] {
			bad("tls.domain", "%q is listed twice", d)
			continue
		}
		seen[strings.ToLower(d)] = true
		if msg := checkDomain(d, o.Mode); msg != "" {
			bad("tls.domain", "%q %s", d, msg)
		}
	}

	if o.Mode == ModeACME {
		if o.Email == "" {
			bad("tls.email", "required for tls.mode acme: set an address the CA can reach about expiry problems")
		} else if a, err := mail.ParseAddress(o.Email); err != nil || a.Address != o.Email {
			bad("tls.email", "%q is not an e-mail address: use the form name@example.com", o.Email)
		}
		if o.ACMECA != "" {
			if u, err := url.Parse(o.ACMECA); err != nil || u.Scheme != "https" || u.Host == "" {
				bad("tls.acme_ca", "%q is not an https:// ACME directory URL", o.ACMECA)
			}
		}
		if o.ACMECARoot != "" && !filepath.IsAbs(o.ACMECARoot) {
			bad("tls.acme_ca_root", "%q must be an absolute path to a PEM file", o.ACMECARoot)
		}
		if o.DisableHTTPChallenge && o.DisableTLSALPN {
			bad("tls", "both ACME challenges are disabled: enable http-01 or tls-alpn-01")
		}
	}

	for _, p := range []struct {
		key  string
		port int
	}{{"tls.http_port", o.HTTPPort}, {"tls.https_port", o.HTTPSPort}, {"gateway.port", o.GatewayPort}} {
		if p.port < 1 || p.port > 65535 {
			bad(p.key, "%d is out of range: use a TCP port from 1 to 65535", p.port)
		}
	}
	if o.HTTPPort == o.HTTPSPort {
		bad("tls.https_port", "%d is also tls.http_port: the two listeners need different ports", o.HTTPSPort)
	}
	if o.GatewayPort == o.HTTPPort || o.GatewayPort == o.HTTPSPort {
		bad("gateway.port", "%d collides with a public port (tls.http_port/tls.https_port): move one of them", o.GatewayPort)
	}
	if o.ListenHost != "" && net.ParseIP(o.ListenHost) == nil {
		bad("tls.listen", "%q is not an IP address: use an address of this host, or leave it empty for all", o.ListenHost)
	}
	if o.StorageDir == "" || !filepath.IsAbs(o.StorageDir) {
		bad("state_dir", "the certificate store %q must be an absolute directory", o.StorageDir)
	}
	return errors.Join(errs...)
}

// checkDomain returns why d can't be served in mode m, or "".
func checkDomain(d string, m Mode) string {
	if net.ParseIP(d) != nil {
		if m == ModeACME {
			return "is an IP address: public CAs need a DNS name; use tls.mode internal for IP access"
		}
		return ""
	}
	if strings.Contains(d, "*") {
		return "is a wildcard: wildcard certificates need DNS-01, which openclawd does not configure; list each name"
	}
	if !isDNSName(d) {
		return "is not a DNS name: use letters, digits, hyphens and dots, e.g. claw.example.com (no scheme, port or path)"
	}
	if m == ModeACME && certmagic.SubjectIsInternal(d) {
		return "is not publicly resolvable: public CAs can't validate it; use tls.mode internal"
	}
	return ""
}

// isDNSName reports whether s is a hostname in the RFC 1123 sense.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 { // a trailing dot would defeat the host matcher
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
