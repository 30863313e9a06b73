//go:build linux

package hostcheck

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/openclawd/openclawd/internal/testnet"
)

// TestReach runs a token server and a DNS server inside a test namespace
// and the doctor's network checks from that same host, through real DNS
// queries and real TCP.
func TestReach(t *testing.T) {
	n := testnet.New(t)
	srv := n.Host("srv", 2)
	const domain, token, path = "openclawd.example.com.", "tok-123", "/.well-known/openclawd-reach"

	// The token server: HTTP and HTTPS (httptest's own CA, which the
	// system roots do not trust: the certificate error path).
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(token)) })
	lh, err := srv.Listen("tcp", srv.IP.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	ls, err := srv.Listen("tcp", srv.IP.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: lh, Config: &http.Server{Handler: mux}}
	hs.Start()
	t.Cleanup(hs.Close)
	ts := &httptest.Server{Listener: ls, Config: &http.Server{Handler: mux}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	httpPort, httpsPort := lh.Addr().(*net.TCPAddr).Port, ls.Addr().(*net.TCPAddr).Port

	// A DNS server in the namespace, answering from a table the cases set.
	var answer atomic.Pointer[[]netip.Addr] // set by the cases, read by the server
	answer.Store(&[]netip.Addr{})
	pc, err := srvListenPacket(srv)
	if err != nil {
		t.Fatal(err)
	}
	ds := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, a := range *answer.Load() {
			hdr := dns.RR_Header{Name: q.Question[0].Name, Class: dns.ClassINET, Ttl: 1}
			switch {
			case a.Is4() && q.Question[0].Qtype == dns.TypeA:
				hdr.Rrtype = dns.TypeA
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
			case a.Is6() && q.Question[0].Qtype == dns.TypeAAAA:
				hdr.Rrtype = dns.TypeAAAA
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
			}
		}
		w.WriteMsg(m)
	})}
	go ds.ActivateAndServe()
	t.Cleanup(func() { ds.Shutdown() })
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return srv.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}

	other := netip.MustParseAddr("198.18.0.99")
	v6 := netip.MustParseAddr("fd5e:7e57::2")
	no := false
	for _, tc := range []struct {
		name    string
		answer  []netip.Addr
		block   bool   // drop the HTTP port with nft
		token   string // "": the server's; else the daemon hands out another
		want    map[string]Level
		contain map[string]string
	}{
		{"name points here", []netip.Addr{srv.IP}, false, "",
			map[string]Level{"dns": OK, "ipv6": OK, "reach_http": OK, "reach_https": Error},
			map[string]string{"reach_https": "certificate"}},
		{"name points elsewhere", []netip.Addr{other}, false, "",
			map[string]Level{"dns": Error, "reach_http": Error},
			map[string]string{"dns": "198.18.0.99", "reach_http": "firewall"}},
		{"AAAA without host IPv6", []netip.Addr{srv.IP, v6}, false, "",
			map[string]Level{"ipv6": Error},
			map[string]string{"ipv6": "AAAA"}},
		{"answered by something else", []netip.Addr{srv.IP}, false, "tok-other",
			map[string]Level{"dns": OK, "reach_http": Error},
			map[string]string{"reach_http": "answered by something else"}},
		{"port blocked", []netip.Addr{srv.IP}, true, "",
			map[string]Level{"dns": OK, "reach_http": Error},
			map[string]string{"reach_http": "port " + strconv.Itoa(httpPort)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer.Store(&tc.answer)
			if tc.block {
				block(t, srv, httpPort)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rs := checkNet(ctx, Options{
				Domains: []string{strings.TrimSuffix(domain, ".")}, HTTPPort: httpPort, HTTPSPort: httpsPort,
				Reach:       func(context.Context) (string, string, error) { return cmp.Or(tc.token, token), path, nil },
				PublicAddrs: []netip.Addr{srv.IP},
				lookup:      res.LookupNetIP,
				dial:        srv.DialContext,
				hasV6:       &no,
			})
			for name, want := range tc.want {
				r := find(rs, name)
				if r.Level != want {
					t.Errorf("%s: level %s, want %s: %s", name, r.Level, want, r.Detail)
				}
				if s := tc.contain[name]; s != "" && !strings.Contains(r.Detail+" "+r.Fix, s) {
					t.Errorf("%s: %q lacks %q", name, r.Detail+" "+r.Fix, s)
				}
			}
		})
	}
}

// srvListenPacket opens a UDP socket inside the namespace (testnet has
// only TCP Listen): a thread joins the namespace, opens it, and goes home.
func srvListenPacket(h *testnet.Host) (net.PacketConn, error) {
	type res struct {
		pc  net.PacketConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{err: err}
			return
		}
		defer home.Close()
		ns, err := os.Open("/run/netns/" + h.NS)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{err: err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- res{err: fmt.Errorf("setns: %w", err)}
			return
		}
		pc, err := net.ListenPacket("udp", h.IP.String()+":0")
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- res{pc, err}
	}()
	r := <-ch
	return r.pc, r.err
}

// block drops TCP to port inside the namespace with nftables; the rule
// goes with the namespace, and is deleted after the case.
func block(t *testing.T, h *testnet.Host, port int) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatalf("nft (nftables) is needed for the blocked-port case: %v", err)
	}
	rules := "table inet ocdtest {\n chain input {\n  type filter hook input priority 0;\n  tcp dport " + strconv.Itoa(port) + " drop\n }\n}\n"
	cmd := h.Command(context.Background(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := h.Command(context.Background(), "nft", "delete", "table", "inet", "ocdtest").CombinedOutput(); err != nil {
			t.Errorf("nft delete: %v: %s", err, out)
		}
	})
}
