package embedcaddy

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"time"

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

// newestLeaf reads certificates/<issuer>/<name>/<name>.crt (certmagic's
// layout) for every issuer of the current mode; "local" is the internal CA.
func newestLeaf(o Options, name string) *x509.Certificate {
	safe := certmagic.StorageKeys.Safe(name)
	paths, _ := filepath.Glob(filepath.Join(o.StorageDir, "certificates", "*", safe, safe+".crt"))
	var best *x509.Certificate
	for _, p := range paths {
		internal := filepath.Base(filepath.Dir(filepath.Dir(p))) == "local"
		if internal != (o.Mode == ModeInternal) {
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
		c, err := x509.ParseCertificate(blk.Bytes)
		if err == nil && (best == nil || c.NotAfter.After(best.NotAfter)) {
			best = c
		}
	}
	return best
}
