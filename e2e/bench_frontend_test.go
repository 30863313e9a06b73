package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/openclawd/openclawd/embedcaddy"
	"github.com/openclawd/openclawd/internal/testnet"
)

// BenchmarkFrontEnd measures, side by side, the same traffic from a client
// host (cli) to the gateway (the fake, on srv): direct to its port from srv
// itself, through openclawd's embedded Caddy, and through stock Caddy of
// the same version running the same config as its own process. HTTP is
// parallel keep-alive GETs of /healthz; WebSocket is the health RPC on one
// connected session. It also reports openclawd's RSS with Caddy loaded,
// idle and with 200 connected WebSockets through it.
//
//	go test -run '^$' -bench FrontEnd -benchtime 5000x -count 4 ./e2e/
func BenchmarkFrontEnd(b *testing.B) {
	fe := newFrontEnd(b, false)
	in := newInstance(b, opts{netns: fe.srv, extraCfg: fe.tlsConfig(), health: defaultHealth})
	fe.waitServed(b, in)
	st, _ := in.status()
	idleKB := rssKB(b, st.PID)

	// Stock Caddy: openclawd's JSON for the same gateway, on other ports,
	// minus openclawd's own modules, in srv beside openclawd.
	stdPort := 8443
	stdDir := b.TempDir()
	cfg, err := embedcaddy.ConfigJSON(embedcaddy.Options{Mode: embedcaddy.ModeInternal, Domains: []string{fe.name},
		HTTPPort: 8080, HTTPSPort: stdPort, GatewayPort: in.port, StorageDir: stdDir})
	if err != nil {
		b.Fatal(err)
	}
	cfgFile := filepath.Join(stdDir, "caddy.json")
	if err := os.WriteFile(cfgFile, stockConfig(b, cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	argv := fe.srv.Wrap(standaloneCaddy(b), "run", "--config", cfgFile)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+stdDir, "XDG_CONFIG_HOME="+stdDir)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) // ip netns exec execs: the pid is caddy's

	targets := []struct {
		name, base string
		hc         *http.Client
	}{
		{"direct", fmt.Sprintf("http://127.0.0.1:%d", in.port), hostClient(fe.srv, nil, "")},
		{"embedded", "https://" + fe.name, hostClient(fe.cli, rootPool(b, fe.rootFile), testnet.Server+":443")},
		{"standalone", fmt.Sprintf("https://%s:%d", fe.name, stdPort), nil},
	}
	stdRoot := filepath.Join(stdDir, "pki", "authorities", "local", "root.crt")
	waitFile(b, stdRoot)
	targets[2].hc = hostClient(fe.cli, rootPool(b, stdRoot), fmt.Sprintf("%s:%d", testnet.Server, stdPort))

	// Which of the two Caddys runs first alternates between -count rounds:
	// measured second, either one looked faster (a warmer fake gateway).
	frontEndRounds++
	embedded := targets[1]
	if frontEndRounds%2 == 0 {
		targets[1], targets[2] = targets[2], targets[1]
	}
	// Warm every path first (connections, the fake's heap, Caddy's pools):
	// measured cold, whichever path ran second looked faster.
	for range 2 {
		for _, tg := range targets {
			for range 500 {
				if resp, err := tg.hc.Get(tg.base + "/healthz"); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			ctx := context.Background()
			if c, _, err := wsHandshake(ctx, tg.hc, "ws"+strings.TrimPrefix(tg.base, "http")+"/", wsClient{token: in.token()}); err == nil {
				for id := 2; id < 500; id++ {
					_ = healthRPC(ctx, c, id)
				}
				c.CloseNow()
			}
		}
	}
	for _, tg := range targets {
		b.Run("http/"+tg.name, func(b *testing.B) {
			var fails atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := tg.hc.Get(tg.base + "/healthz")
					if err != nil {
						fails.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						fails.Add(1)
					}
				}
			})
			if n := fails.Load(); n > 0 {
				b.Fatalf("%d of %d requests failed", n, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
	for _, tg := range targets {
		b.Run("ws/"+tg.name, func(b *testing.B) {
			ctx := context.Background()
			c, res, err := wsHandshake(ctx, tg.hc, "ws"+strings.TrimPrefix(tg.base, "http")+"/", wsClient{token: in.token()})
			if err != nil || c == nil {
				b.Fatalf("connect: %q %v", res, err)
			}
			defer c.CloseNow()
			id := 1
			for b.Loop() {
				id++
				if err := healthRPC(ctx, c, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}

	// openclawd's memory, idle with Caddy loaded and with 200 sessions
	// through its Caddy. A sub-benchmark, since a parent's metrics are not
	// printed.
	b.Run("rss", func(b *testing.B) {
		var conns []*websocket.Conn
		defer func() {
			for _, c := range conns {
				c.CloseNow()
			}
		}()
		for range 200 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			c, res, err := wsHandshake(ctx, embedded.hc, "wss://"+fe.name+"/", wsClient{token: in.token()})
			cancel()
			if err != nil || c == nil {
				b.Fatalf("session %d: %q %v", len(conns), res, err)
			}
			conns = append(conns, c)
		}
		for b.Loop() {
		}
		b.ReportMetric(float64(idleKB)/1024, "idle-MB")
		b.ReportMetric(float64(rssKB(b, st.PID))/1024, "200ws-MB")
	})
}

// frontEndRounds counts BenchmarkFrontEnd runs (-count).
var frontEndRounds int

// defaultHealth keeps the daemon's probe cadence at its defaults, so the
// numbers are those of a real deployment.
const defaultHealth = "health: {}\n"

// healthRPC sends the health method and waits for its answer.
func healthRPC(ctx context.Context, c *websocket.Conn, id int) error {
	req := fmt.Sprintf(`{"type":"req","id":"%d","method":"health","params":{}}`, id)
	if err := c.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
		return err
	}
	want := fmt.Sprintf(`"id":"%d"`, id)
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), want) {
			if !strings.Contains(string(b), `"ok":true`) {
				return fmt.Errorf("health: %.200s", b)
			}
			return nil
		}
	}
}

// hostClient is a keep-alive client that dials from host h, to addr when
// set (as DNS would resolve the name), trusting roots.
func hostClient(h *testnet.Host, roots *x509.CertPool, addr string) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, TLSClientConfig: &tls.Config{RootCAs: roots}}
	tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		if addr != "" {
			a = addr
		}
		return h.DialContext(ctx, network, a)
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func waitFile(tb testing.TB, path string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		} else if time.Now().After(deadline) {
			tb.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval within the deadline
	}
}

// stockConfig is cfg without openclawd's own modules, which stock Caddy
// doesn't have: the gate handler (503 page) and the slog log core. Headers,
// proxy and TLS are the same.
func stockConfig(tb testing.TB, cfg []byte) []byte {
	var v map[string]any
	if err := json.Unmarshal(cfg, &v); err != nil {
		tb.Fatal(err)
	}
	delete(v, "logging")
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			for k, e := range t {
				t[k] = walk(e)
			}
		case []any:
			out := t[:0]
			for _, e := range t {
				if m, ok := e.(map[string]any); ok && m["handler"] == "openclawd_gate" {
					continue
				}
				out = append(out, walk(e))
			}
			return out
		}
		return x
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// standaloneCaddy builds the stock caddy command (modules/standard) of the
// version in go.mod, once, into ~/.cache/openclawd-test: a temporary
// module whose only requirement is that version, from the Go module proxy.
// The first build takes a few minutes.
func standaloneCaddy(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/caddyserver/caddy/v2").Output()
	if err != nil {
		tb.Fatalf("go list caddy: %v", err)
	}
	version := strings.TrimSpace(string(out))
	cache, err := os.UserCacheDir()
	if err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(cache, "openclawd-test", "caddy-"+version)
	bin := filepath.Join(dir, "caddy")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	files := map[string]string{
		"go.mod": "module standalone\n\ngo 1.26.8\n\nrequire github.com/caddyserver/caddy/v2 " + version + "\n",
		"main.go": "package main\n\nimport (\n\tcaddycmd \"github.com/caddyserver/caddy/v2/cmd\"\n\t_ \"github.com/caddyserver/caddy/v2/modules/standard\"\n)\n\n" +
			"func main() { caddycmd.Main() }\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-trimpath", "-ldflags=-s -w", "-o", bin + ".tmp", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	if err := os.Rename(bin+".tmp", bin); err != nil {
		tb.Fatal(err)
	}
	return bin
}
