package testnet_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/testnet"
)

// Two hosts reach each other over the bridge, each sees the other's own
// address, and neither has a route out.
func TestNet(t *testing.T) {
	n := testnet.New(t)
	srv, cli := n.Host("srv", 2), n.Host("cli", 10)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	for _, h := range []*testnet.Host{srv, cli} {
		t.Run("no route out from "+h.NS, func(t *testing.T) {
			out, _ := h.Command(ctx, "ip", "route", "get", "198.19.255.1").CombinedOutput()
			if !strings.Contains(string(out), "unreachable") {
				t.Errorf("ip route get 198.19.255.1 = %q, want unreachable", out)
			}
		})
	}

	ln, err := srv.Listen("tcp", net.JoinHostPort(testnet.Server, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		defer c.Close()
		peer <- c.RemoteAddr().String()
		_, _ = io.Copy(c, c)
	}()
	c, err := cli.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
	if p := <-peer; !strings.HasPrefix(p, testnet.Client+":") {
		t.Errorf("srv saw the client as %s, want %s", p, testnet.Client)
	}
}
