package embedcaddy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap/zapcore"
)

// CertInfo describes the certificate stored for one name.
type CertInfo struct {
	Name     string
	Issuer   string    // issuing CA's common name; "" if no certificate yet
	NotAfter time.Time // zero if no certificate yet
	DaysLeft int       // whole days until NotAfter (negative once expired)
	// LastError is the last failed obtain or renewal since this process
	// started, cleared by the next success.
	LastError   string
	LastErrorAt time.Time
}

// certmagic's log messages about one name (fields "identifier", "error"),
// logged for first issuance and renewals alike.
const msgIssueFailed = "could not get certificate from issuer"

var msgIssued = map[string]bool{
	"certificate obtained successfully": true,
	"certificate renewed successfully":  true,
}

// certLog holds the last failure per name. It is fed from the zap bridge
// rather than Caddy's events app: subscriptions are added in the events
// app's Start, which Caddy runs concurrently with certificate management
// already emitting events (a data race in Caddy v2.11.9, seen with -race).
var certLog = struct {
	sync.Mutex
	byName map[string]certOutcome
}{byName: map[string]certOutcome{}}

type certOutcome struct {
	err string
	at  time.Time
}

func isCertMessage(msg string) bool { return msg == msgIssueFailed || msgIssued[msg] }

// recordCert notes a failure, or clears it on success.
func recordCert(e zapcore.Entry, fields []zapcore.Field) {
	var name, errText string
	for _, f := range fields {
		switch f.Key {
		case "identifier":
			name = f.String
		case "error":
			if err, ok := f.Interface.(error); ok {
				errText = err.Error()
			}
		}
	}
	if name == "" {
		return
	}
	certLog.Lock()
	defer certLog.Unlock()
	if msgIssued[e.Message] {
		delete(certLog.byName, name)
	} else if e.Message == msgIssueFailed {
		certLog.byName[name] = certOutcome{err: errText, at: e.Time}
	}
}

// Certificates reports, per configured name, the newest certificate in
// storage from the current mode's issuer, and the last failure if any. It
// reads storage rather than Caddy's cache, so it also works while stopped.
func (s *Server) Certificates() []CertInfo {
	s.mu.Lock()
	o := s.opts
	s.mu.Unlock()
	if o.Mode == ModeOff {
		return nil
	}
	now := time.Now()
	out := make([]CertInfo, 0, len(o.Domains))
	for _, name := range o.Domains {
		ci := CertInfo{Name: name}
		if leaf := newestLeaf(o, name); leaf != nil {
			ci.Issuer = leaf.Issuer.CommonName
			ci.NotAfter = leaf.NotAfter
			ci.DaysLeft = int(leaf.NotAfter.Sub(now).Hours() / 24)
		}
		certLog.Lock()
		if f, ok := certLog.byName[name]; ok {
			ci.LastError, ci.LastErrorAt = f.err, f.at
		}
		certLog.Unlock()
		out = append(out, ci)
	}
	return out
}

// KeyPins returns the SHA-256 of the SubjectPublicKeyInfo of every
// certificate this Caddy holds for name: those in its cache (what it
// serves) while it runs, and those in storage from any issuer. A TLS peer
// whose leaf has one of these keys proved it holds a private key that is
// in this host's Caddy storage, so it is this host's Caddy.
//
// Keys rather than whole certificates: the handshake proves possession of
// the key, not of the certificate, so a key match is the actual proof, and
// it survives renewals that reuse the key (reuse_private_keys). By default
// certmagic makes a new key at each renewal (TestACMERenewShortLived logs
// it), which is why both the cache and storage are read: they differ for
// the moment between a renewal being stored and being served.
func (s *Server) KeyPins(name string) [][sha256.Size]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Mode == ModeOff {
		return nil
	}
	var leaves []*x509.Certificate
	if s.loaded { // Caddy's cache exists only while a config runs
		for _, c := range caddytls.AllMatchingCertificates(name) {
			if leaf := cachedLeaf(c); leaf != nil {
				leaves = append(leaves, leaf)
			}
		}
	}
	leaves = append(leaves, storedLeaves(s.opts, name, false)...)
	var pins [][sha256.Size]byte
	seen := map[[sha256.Size]byte]bool{}
	for _, l := range leaves {
		p := sha256.Sum256(l.RawSubjectPublicKeyInfo)
		if !seen[p] {
			seen[p] = true
			pins = append(pins, p)
		}
	}
	return pins
}

func cachedLeaf(c certmagic.Certificate) *x509.Certificate {
	if c.Leaf != nil {
		return c.Leaf
	}
	if len(c.Certificate.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// newestLeaf returns the stored leaf for name from the current mode's
// issuer that expires last.
func newestLeaf(o Options, name string) *x509.Certificate {
	var best *x509.Certificate
	for _, c := range storedLeaves(o, name, true) {
		if best == nil || c.NotAfter.After(best.NotAfter) {
			best = c
		}
	}
	return best
}

// storedLeaves reads certificates/<issuer>/<name>/<name>.crt (certmagic's
// layout) for every issuer, or with modeOnly those of the current mode
// ("local" is the internal CA).
func storedLeaves(o Options, name string, modeOnly bool) []*x509.Certificate {
	safe := certmagic.StorageKeys.Safe(name)
	paths, _ := filepath.Glob(filepath.Join(o.StorageDir, "certificates", "*", safe, safe+".crt"))
	var out []*x509.Certificate
	for _, p := range paths {
		internal := filepath.Base(filepath.Dir(filepath.Dir(p))) == "local"
		if modeOnly && internal != (o.Mode == ModeInternal) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		blk, _ := pem.Decode(b) // the leaf comes first in the chain
		if blk == nil {
			continue
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			out = append(out, c)
		}
	}
	return out
}
