package fakegateway

import (
	"net/http/httptest"
	"testing"
)

func TestAttribute(t *testing.T) {
	p := proxyPolicy{trusted: map[string]bool{"127.0.0.1": true, "::1": true}}
	tests := []struct {
		name   string
		peer   string
		xff    []string
		realIP string
		want   attribution
	}{
		{name: "direct loopback", peer: "127.0.0.1:5000", want: attribution{client: "127.0.0.1"}},
		{name: "remote through the proxy", peer: "127.0.0.1:5000", xff: []string{"198.18.0.10"}, want: attribution{remote: true, client: "198.18.0.10"}},
		{name: "rightmost untrusted hop wins", peer: "[::1]:5000", xff: []string{"203.0.113.9, 198.18.0.10"}, want: attribution{remote: true, client: "198.18.0.10"}},
		{name: "trusted hops are skipped", peer: "127.0.0.1:5000", xff: []string{"198.18.0.10, 127.0.0.1"}, want: attribution{remote: true, client: "198.18.0.10"}},
		{name: "local client through the proxy", peer: "127.0.0.1:5000", xff: []string{"127.0.0.1"}, want: attribution{refuse: true}},
		{name: "garbage", peer: "127.0.0.1:5000", xff: []string{"not-an-ip"}, want: attribution{refuse: true}},
		{name: "untrusted peer", peer: "198.18.0.3:5000", xff: []string{"198.18.0.10"}, want: attribution{refuse: true}},
		{name: "lone X-Real-IP", peer: "127.0.0.1:5000", realIP: "198.18.0.10", want: attribution{refuse: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.realIP != "" {
				r.Header.Set("X-Real-IP", tt.realIP)
			}
			if got := (&gateway{}).attribute(r, p); got != tt.want {
				t.Errorf("attribute = %+v, want %+v", got, tt.want)
			}
		})
	}
}
