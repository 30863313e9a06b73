package testnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Well-known hosts of a Net, as in system-tests.md §2.4.
const (
	Server = "198.18.0.2"
	Client = "198.18.0.10"
	ACME   = "198.18.0.5"
)

// Net is one private network; Cleanup removes every namespace it made.
type Net struct {
	t  testing.TB
	id string // short random tag: names stay unique across parallel tests
	sw string // the bridge's namespace
}

// Host is a namespace on a Net with one interface, eth0.
type Host struct {
	NS string     // namespace name under /run/netns
	IP netip.Addr // its IPv4 address
}

// Available reports why namespaces can't be made here, or "".
func Available() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "the ip command (iproute2) is not installed"
	}
	return ""
}

// New makes an empty network, or skips the test where that is impossible.
// Under CI=true a missing prerequisite fails instead: a skipped network
// test must never count as a pass there.
func New(t testing.TB) *Net {
	t.Helper()
	if why := Available(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testnet: %s", why)
		}
		t.Skipf("testnet: %s", why)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	n := &Net{t: t, id: hex.EncodeToString(b)}
	n.sw = "ocd" + n.id + "-sw"
	n.ip("netns", "add", n.sw)
	t.Cleanup(func() { n.del(n.sw) })
	n.ip("-n", n.sw, "link", "add", "br0", "type", "bridge")
	n.ip("-n", n.sw, "link", "set", "br0", "up")
	return n
}

// Host adds a namespace named after role with address 198.18.0.<octet>.
func (n *Net) Host(role string, octet int) *Host {
	n.t.Helper()
	h := &Host{NS: "ocd" + n.id + "-" + role, IP: netip.AddrFrom4([4]byte{198, 18, 0, byte(octet)})}
	veth := fmt.Sprintf("v%s%02x", n.id, octet) // IFNAMSIZ is 16
	n.ip("netns", "add", h.NS)
	n.t.Cleanup(func() { n.del(h.NS) })
	n.ip("-n", n.sw, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
	n.ip("-n", n.sw, "link", "set", veth, "master", "br0", "up")
	n.ip("-n", h.NS, "link", "set", "lo", "up")
	n.ip("-n", h.NS, "addr", "add", h.IP.String()+"/24", "dev", "eth0")
	n.ip("-n", h.NS, "-6", "addr", "add", fmt.Sprintf("fd5e:7e57::%x/64", octet), "dev", "eth0", "nodad")
	n.ip("-n", h.NS, "link", "set", "eth0", "up")
	return h
}

func (n *Net) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// del removes a namespace; its veth ends go with it.
func (n *Net) del(ns string) {
	if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
		n.t.Errorf("ip netns del %s: %v: %s", ns, err, out)
	}
}

// Command runs name inside the host's namespace (its own loopback too).
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := h.Wrap(append([]string{name}, args...)...)
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}

// Wrap returns argv prefixed so that it runs inside the namespace; for
// callers that build their own exec.Cmd.
func (h *Host) Wrap(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", h.NS}, argv...)
}

// DialContext dials from inside the namespace. The socket is made on an OS
// thread moved into the namespace; the connection keeps working from any
// thread afterwards, so the rest of the test stays in the root namespace.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := h.in(func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a listener inside the namespace, as DialContext dials.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := h.in(func() (err error) {
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}
