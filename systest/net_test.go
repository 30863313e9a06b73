//go:build systest && linux

package systest

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/openclawd/openclawd/internal/testnet"
)

// network is system-tests.md §2.4's test network: the server (the guest),
// a client host and the ACME CA on one bridge, no route anywhere else.
type network struct {
	srv, cli, acme *testnet.Host
}

func newNetwork(t testing.TB) *network {
	t.Helper()
	var names []string
	// Registered first, so it runs after testnet's own cleanups delete
	// the namespaces: assert that they are really gone.
	t.Cleanup(func() {
		for _, ns := range names {
			if _, err := os.Stat("/run/netns/" + ns); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("teardown: network namespace %s is left (%v)", ns, err)
			}
		}
	})
	n := testnet.New(t)
	nw := &network{srv: n.Host("srv", 2), cli: n.Host("cli", 10), acme: n.Host("acme", 5)}
	names = append(names, nw.srv.NS, nw.cli.NS, nw.acme.NS, strings.TrimSuffix(nw.srv.NS, "-srv")+"-sw")
	return nw
}
