package fakegateway

import (
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/openclawd/openclawd/internal/json5"
)

// proxyPolicy is what the real gateway reads from openclaw.json for
// proxied clients (§13): which peers may set X-Forwarded-For, and which
// browser origins may connect.
type proxyPolicy struct {
	trusted map[string]bool
	origins map[string]bool
}

// readProxyPolicy reads $OPENCLAW_STATE_DIR/openclaw.json at each request:
// the real gateway hot-reloads these keys in ~0.1 s (§13 rule 7).
func readProxyPolicy(stateDir string) proxyPolicy {
	p := proxyPolicy{trusted: map[string]bool{}, origins: map[string]bool{}}
	if stateDir == "" {
		return p
	}
	b, err := os.ReadFile(filepath.Join(stateDir, "openclaw.json"))
	if err != nil {
		return p
	}
	v, err := json5.Parse(b)
	if err != nil {
		return p
	}
	strs := func(into map[string]bool, path ...string) {
		list, ok := v.Get(path...)
		if !ok {
			return
		}
		for _, e := range list.Elems() {
			if s, ok := e.String(); ok {
				into[s] = true
			}
		}
	}
	strs(p.trusted, "gateway", "trustedProxies")
	strs(p.origins, "gateway", "controlUi", "allowedOrigins")
	return p
}

// attribution is who a request comes from, as the gateway sees it.
type attribution struct {
	remote bool   // a non-loopback client, through a trusted proxy
	client string // its address
	refuse bool   // proxy headers the gateway won't accept: 403
}

// attribute applies §13: proxy headers count only from a trusted peer;
// X-Forwarded-For is walked from the right, skipping trusted hops; a lone
// X-Real-IP or Forwarded, or a loopback or garbage client, is refused.
func (g *gateway) attribute(r *http.Request, p proxyPolicy) attribution {
	xff := r.Header.Values("X-Forwarded-For")
	proxied := len(xff) > 0 || r.Header.Get("X-Real-IP") != "" || r.Header.Get("Forwarded") != ""
	if !proxied {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		return attribution{client: host}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || !p.trusted[host] || len(xff) == 0 {
		return attribution{refuse: true}
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if p.trusted[h] {
			continue
		}
		ip, err := netip.ParseAddr(h)
		if err != nil || ip.Unmap().IsLoopback() {
			return attribution{refuse: true}
		}
		return attribution{remote: true, client: ip.Unmap().String()}
	}
	return attribution{refuse: true}
}
