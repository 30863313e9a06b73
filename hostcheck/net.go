package hostcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

const reachTimeout = 5 * time.Second

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicAddrs lists global unicast addresses that are not private, CGNAT or ULA.
func publicAddrs() []netip.Addr {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range as {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip) {
			out = append(out, ip)
		}
	}
	return out
}

// hostHasV6 reports a public IPv6 address and an IPv6 default route.
func hostHasV6(pub []netip.Addr) bool {
	if !slices.ContainsFunc(pub, netip.Addr.Is6) {
		return false
	}
	b, err := os.ReadFile("/proc/net/ipv6_route")
	if err != nil {
		return true // can't tell: trust the address
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == strings.Repeat("0", 32) && f[1] == "00" {
			return true
		}
	}
	return false
}

func checkNet(ctx context.Context, o Options) []Result {
	names := []string{"ipv6", "dns", "reach_http", "reach_https"}
	if len(o.Domains) == 0 {
		rs := make([]Result, len(names))
		for i, n := range names {
			rs[i] = Result{Name: n, Level: Skip, Detail: "no tls.domain configured: nothing to check", Fix: "sudo openclawd setup"}
		}
		return rs
	}
	pub := o.PublicAddrs
	if pub == nil {
		pub = publicAddrs()
	}
	v6 := hostHasV6(pub)
	if o.hasV6 != nil {
		v6 = *o.hasV6
	}
	v4s, v6s := map[string][]netip.Addr{}, map[string][]netip.Addr{}
	var lookupErrs []string
	for _, d := range o.Domains {
		lctx, cancel := context.WithTimeout(ctx, reachTimeout)
		a, err4 := o.lookup(lctx, "ip4", d)
		aaaa, _ := o.lookup(lctx, "ip6", d)
		cancel()
		v4s[d], v6s[d] = unmap(a), aaaa
		if err4 != nil && len(aaaa) == 0 {
			lookupErrs = append(lookupErrs, fmt.Sprintf("%s: %v", d, err4))
		}
	}

	ip6 := Result{Name: "ipv6", Level: OK, Detail: "no AAAA records"}
	var with6 []string
	for _, d := range o.Domains {
		if len(v6s[d]) > 0 {
			with6 = append(with6, d)
		}
	}
	if len(with6) > 0 {
		if v6 {
			ip6.Detail = fmt.Sprintf("AAAA on %s and the host has public IPv6", strings.Join(with6, ", "))
		} else {
			ip6.Level = Error
			ip6.Detail = fmt.Sprintf("%s has an AAAA record but this host has no public IPv6 address or IPv6 default route: clients on IPv6 get nothing", strings.Join(with6, ", "))
			ip6.Fix = "remove the AAAA record at your DNS provider, or configure IPv6 on this host"
		}
	}

	dns := Result{Name: "dns", Level: OK}
	var bad, good []string
	for _, d := range o.Domains {
		got := append(append([]netip.Addr{}, v4s[d]...), v6s[d]...)
		if len(got) == 0 {
			continue
		}
		if len(pub) == 0 {
			good = append(good, fmt.Sprintf("%s -> %s", d, join(got)))
			continue
		}
		var elsewhere []netip.Addr
		for _, a := range got {
			if !slices.Contains(pub, a) && (a.Is4() || v6) {
				elsewhere = append(elsewhere, a)
			}
		}
		if len(elsewhere) > 0 {
			bad = append(bad, fmt.Sprintf("%s points to %s", d, join(elsewhere)))
		} else {
			good = append(good, fmt.Sprintf("%s -> %s", d, join(got)))
		}
	}
	switch {
	case len(lookupErrs) > 0:
		dns.Level, dns.Detail = Error, "cannot resolve "+strings.Join(lookupErrs, "; ")
		dns.Fix = "add an A record for each name pointing to this host's public address"
	case len(bad) > 0:
		dns.Level = Error
		dns.Detail = fmt.Sprintf("%s, but this host's public addresses are %s", strings.Join(bad, "; "), join(pub))
		dns.Fix = "point the A/AAAA records to " + join(pub)
	case len(pub) == 0:
		dns.Level = Warn
		dns.Detail = fmt.Sprintf("%s; this host has no public address on any interface (NAT or cloud 1:1), so only the reach check can tell", strings.Join(good, "; "))
	default:
		dns.Detail = strings.Join(good, "; ")
	}

	return append([]Result{ip6, dns}, checkReach(ctx, o)...)
}

func unmap(as []netip.Addr) []netip.Addr {
	for i := range as {
		as[i] = as[i].Unmap()
	}
	return as
}

func join(as []netip.Addr) string {
	if len(as) == 0 {
		return "(none)"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// checkReach fetches the daemon's one-time token through the public name,
// as a browser would, on both ports.
func checkReach(ctx context.Context, o Options) []Result {
	h, s := Result{Name: "reach_http"}, Result{Name: "reach_https"}
	if o.Reach == nil {
		h.Level, h.Detail, h.Fix = Skip, "openclawd is not running", "sudo systemctl start openclawd"
		s.Level, s.Detail, s.Fix = h.Level, h.Detail, h.Fix
		return []Result{h, s}
	}
	token, path, err := o.Reach(ctx)
	if err != nil {
		h.Level, h.Detail = Skip, fmt.Sprintf("cannot get a reach token from openclawd: %v", err)
		s.Level, s.Detail = h.Level, h.Detail
		return []Result{h, s}
	}
	d := o.Domains[0]
	h = fetch(ctx, o, "reach_http", "http://"+net.JoinHostPort(d, strconv.Itoa(o.HTTPPort))+path, token, o.HTTPPort)
	s = fetch(ctx, o, "reach_https", "https://"+net.JoinHostPort(d, strconv.Itoa(o.HTTPSPort))+path, token, o.HTTPSPort)
	return []Result{h, s}
}

func fetch(ctx context.Context, o Options, name, url, token string, port int) Result {
	r := Result{Name: name}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: o.RootCAs}, // nil: the system's
		DisableKeepAlives: true,
		Proxy:             nil, // the host's own view, not a proxy's
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialName(ctx, o, network, addr)
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: reachTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.Level, r.Detail = Error, fmt.Sprintf("GET %s: %v", url, err)
		return r
	}
	resp, err := c.Do(req)
	if err != nil {
		var ce *tls.CertificateVerificationError
		var ue x509.UnknownAuthorityError
		var he x509.HostnameError
		var ie x509.CertificateInvalidError
		if errors.As(err, &ce) || errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ie) {
			r.Level = Error
			r.Detail = fmt.Sprintf("GET %s: the certificate is not trusted: %v", url, err)
			r.Fix = "wait for the ACME certificate (`openclawd logs` shows why it fails: DNS or port 80 unreachable), then run doctor again"
			return r
		}
		r.Level = Error
		r.Detail = fmt.Sprintf("GET %s: %v: nothing reaches openclawd on port %d through this name", url, err, port)
		r.Fix = firewallHint()
		return r
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != token {
		r.Level = Error
		r.Detail = fmt.Sprintf("GET %s: answered by something else (HTTP %d, not openclawd's token)", url, resp.StatusCode)
		r.Fix = fmt.Sprintf("check the DNS records and that no other server (or a proxy/CDN) holds port %d", port)
		return r
	}
	r.Level, r.Detail = OK, fmt.Sprintf("GET %s answered with openclawd's token", url)
	return r
}

// firewallHint says how to open 80/443 with the firewall this host has.
// It only looks; root-only tools that fail simply give the generic hint.
func firewallHint() string {
	const cloud = "; also allow TCP 80 and 443 in your cloud provider's firewall/security group"
	if _, err := exec.LookPath("ufw"); err == nil {
		return "sudo ufw allow 80,443/tcp" + cloud
	}
	if _, err := exec.LookPath("nft"); err == nil {
		return "sudo nft add rule inet filter input tcp dport { 80, 443 } accept (or your nftables config)" + cloud
	}
	if _, err := exec.LookPath("iptables"); err == nil {
		return "sudo iptables -I INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT" + cloud
	}
	return "allow TCP 80 and 443 in your cloud provider's firewall/security group"
}

// checkFirewall only names the firewall tool present, as a hint for reach
// failures: reading its rules needs root and is not required.
func checkFirewall() Result {
	for _, t := range []string{"ufw", "nft", "iptables"} {
		if p, err := exec.LookPath(t); err == nil {
			return Result{Name: "firewall", Level: OK, Detail: fmt.Sprintf("%s is installed (%s); if reach fails: %s", t, p, firewallHint())}
		}
	}
	return Result{Name: "firewall", Level: Skip, Detail: "no ufw, nft or iptables found: only a cloud firewall can block ports"}
}

// dialName resolves with the same lookup the dns check used, so both
// checks see the same answer, then dials each address in turn.
func dialName(ctx context.Context, o Options, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	dial := o.dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	ips, err4 := o.lookup(ctx, "ip4", host)
	ip6, _ := o.lookup(ctx, "ip6", host)
	ips = append(unmap(ips), ip6...)
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolving %s: %w", host, err4)
	}
	var errs []error
	for _, ip := range ips {
		c, err := dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
