// Package hostcheck answers "is this host ready to run openclawd?" for
// `openclawd doctor`: memory and swap, disk and inodes, clock sync, DNS and
// IPv6 of the HTTPS names, and whether the front end is reachable through
// them. Every problem carries the fix; a check that cannot run is "skip".
package hostcheck

import (
	"context"
	"crypto/x509"
	"net"
	"net/netip"
)

// Level is a check's outcome.
type Level string

const (
	OK    Level = "ok"
	Warn  Level = "warn"
	Error Level = "error"
	Skip  Level = "skip"
)

// Result is one check's outcome, shown by doctor as a line.
type Result struct {
	Name   string `json:"name"`
	Level  Level  `json:"level"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Options says what to check.
type Options struct {
	StateDir            string
	Domains             []string // empty: DNS and reach checks skip
	HTTPPort, HTTPSPort int      // 0: 80 and 443
	// Reach asks the running daemon for a one-time token and the path its
	// front end serves it at; nil: the reach checks skip.
	Reach func(ctx context.Context) (token, path string, err error)
	// PublicAddrs nil: discovered from the host's interfaces.
	PublicAddrs []netip.Addr
	// RootCAs verifies the HTTPS reach (nil: the system's roots); for
	// tls.mode internal, Caddy's local CA, which clients install.
	RootCAs *x509.CertPool

	meminfo string // tests: another /proc/meminfo
	// tests: lookups and dials from inside a test namespace.
	lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	hasV6  *bool // tests: whether the host has a global IPv6 address and route
}

// Run runs every check in a fixed order.
func Run(ctx context.Context, o Options) []Result {
	if o.HTTPPort == 0 {
		o.HTTPPort = 80
	}
	if o.HTTPSPort == 0 {
		o.HTTPSPort = 443
	}
	if o.meminfo == "" {
		o.meminfo = "/proc/meminfo"
	}
	if o.lookup == nil {
		o.lookup = net.DefaultResolver.LookupNetIP
	}
	rs := []Result{checkMemory(o.meminfo)}
	rs = append(rs, checkDisk(o.StateDir)...)
	rs = append(rs, checkClock())
	rs = append(rs, checkNet(ctx, o)...)
	rs = append(rs, checkFirewall())
	return rs
}
