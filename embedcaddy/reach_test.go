package embedcaddy

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// A reach token is answered over HTTPS and plain HTTP through the served
// name, even while the gateway is down; anything else on port 80 still
// redirects, and an unknown token is a 404.
func TestReachToken(t *testing.T) {
	gw := freePort(t) // the gateway is down: reach does not need it
	o := internalOpts(t, gw, "claw.localhost")
	s := startServer(t, o)
	hc := client(internalRoots(t, s, "claw.localhost"), "")
	tok, path, err := NewReachToken()
	if err != nil {
		t.Fatal(err)
	}
	plain := "http://" + net.JoinHostPort("claw.localhost", strconv.Itoa(o.HTTPPort))
	tests := []struct {
		name, url  string
		wantStatus int
		wantBody   string
	}{
		{"https", base(o, "claw.localhost") + path, http.StatusOK, tok},
		{"http", plain + path, http.StatusOK, tok},
		{"unknown token over https", base(o, "claw.localhost") + ReachPrefix + "zz" + tok[2:], http.StatusNotFound, ""},
		{"unknown token over http", plain + ReachPrefix + "nope", http.StatusNotFound, ""},
		{"http elsewhere still redirects", plain + "/chat", http.StatusPermanentRedirect, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, err := get(hc, tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || (tt.wantBody != "" && body != tt.wantBody) {
				t.Errorf("GET %s: %d %q; want %d %q", tt.url, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus == http.StatusOK && !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
				t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
			}
		})
	}
}
