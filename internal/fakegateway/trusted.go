package fakegateway

import (
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/openclawd/openclawd/internal/json5"
)

// trustedProxies reads gateway.trustedProxies from the gateway's config
// file ($OPENCLAW_STATE_DIR/openclaw.json), as the real gateway does (§13):
// proxy headers are honoured only from those addresses.
func trustedProxies(getenv func(string) string) map[string]bool {
	dir := getenv("OPENCLAW_STATE_DIR")
	if dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "openclaw.json"))
	if err != nil {
		return nil
	}
	v, err := json5.Parse(b)
	if err != nil {
		return nil
	}
	list, ok := v.Get("gateway", "trustedProxies")
	if !ok {
		return nil
	}
	out := map[string]bool{}
	for _, e := range list.Elems() {
		if s, ok := e.String(); ok {
			out[s] = true
		}
	}
	return out
}

// fromTrustedProxy reports whether r came straight from a trusted proxy.
func (g *gateway) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	return err == nil && g.cfg.trusted[host]
}
