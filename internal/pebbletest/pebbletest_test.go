package pebbletest_test

import (
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/pebbletest"
	"github.com/openclawd/openclawd/internal/testnet"
)

func TestStartInNamespace(t *testing.T) {
	n := testnet.New(t)
	p := pebbletest.Start(t, pebbletest.Options{Host: n.Host("acme", 5), DefaultIPv4: testnet.Server, Profiles: map[string]time.Duration{"short": time.Minute}})
	if root := p.IssuingRoot(t); len(root) < 100 {
		t.Errorf("issuing root %q", root)
	}
	if p.Orders() != 0 {
		t.Errorf("%d orders before any client", p.Orders())
	}
}
