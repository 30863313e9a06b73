package localapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openclawd/openclawd/localapi/apitype"
)

// TestMain doubles as a client run under another uid: the peer-credential
// checks need a real caller that is not root.
func TestMain(m *testing.M) {
	if sock := os.Getenv("LOCALAPI_TEST_CLIENT"); sock != "" {
		c := NewClient(sock)
		ctx := context.Background()
		var err error
		switch os.Getenv("LOCALAPI_TEST_OP") {
		case "restart":
			_, err = c.Restart(ctx)
		case "reload":
			_, err = c.Reload(ctx)
		default:
			_, err = c.Status(ctx)
		}
		var denied *AccessDeniedError
		switch {
		case err == nil:
			fmt.Print("ok")
		case errors.As(err, &denied):
			fmt.Print("denied: " + denied.Msg)
		default:
			fmt.Print("error: " + err.Error())
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type backend struct{ restarts, reloads int }

func (b *backend) Status() apitype.Status  { return apitype.Status{State: "running", Healthy: true} }
func (b *backend) Restart(string) error    { b.restarts++; return nil }
func (b *backend) Reload() (string, error) { b.reloads++; return "reloaded", nil }
func (b *backend) Restore(context.Context, string, string) (string, error) {
	return "", errors.New("not in this test")
}

func (b *backend) Upgrade(context.Context, apitype.UpgradeRequest) (apitype.UpgradePlan, error) {
	return apitype.UpgradePlan{}, errors.New("not in this test")
}

func (b *backend) TestAlerts(context.Context) []apitype.AlertTest { return nil }

func (b *backend) ResumeSpend(context.Context) (string, error) {
	return "", errors.New("not in this test")
}

func (b *backend) Reach() (apitype.Reach, error) {
	return apitype.Reach{}, errors.New("not in this test")
}

func serve(t *testing.T, gid int) (string, *backend) {
	t.Helper()
	dir, err := os.MkdirTemp("", "lapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "run", "api.sock")
	ln, err := Listen(path, gid)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{}
	s := NewServer(ln, b, gid, slog.New(slog.DiscardHandler))
	s.Start(context.Background())
	t.Cleanup(func() { s.Stop(context.Background()) })
	return path, b
}

func TestOwnerCanReadAndRestart(t *testing.T) {
	path, b := serve(t, -1)
	c := NewClient(path)
	st, err := c.Status(context.Background())
	if err != nil || !st.Healthy {
		t.Fatalf("status: %+v, %v", st, err)
	}
	if _, err := c.Restart(context.Background()); err != nil || b.restarts != 1 {
		t.Fatalf("restart: %v (restarts %d)", err, b.restarts)
	}
	if r, err := c.Reload(context.Background()); err != nil || b.reloads != 1 || r.Message != "reloaded" {
		t.Fatalf("reload: %+v, %v (reloads %d)", r, err, b.reloads)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, %v; want 0660", fi.Mode().Perm(), err)
	}
}

func TestBrowserStyleRequestsAreRefused(t *testing.T) {
	path, _ := serve(t, -1)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	tests := []struct {
		name   string
		host   string
		header [2]string
		want   int
	}{
		{"plain client", Host, [2]string{}, 200},
		{"origin", Host, [2]string{"Origin", "http://evil.example"}, 403},
		{"referer", Host, [2]string{"Referer", "http://evil.example/"}, 403},
		{"fetch metadata", Host, [2]string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"foreign host (DNS rebinding)", "evil.example", [2]string{}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+tt.host+"/v1/status", nil)
			if tt.header[0] != "" {
				req.Header.Set(tt.header[0], tt.header[1])
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d; want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestPeerCredentials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as nobody")
	}
	const nobody, nogroup = 65534, 65534
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary must be reachable by nobody.
	bin := filepath.Join(os.TempDir(), fmt.Sprintf("localapi-client-%d", os.Getpid()))
	if b, err := os.ReadFile(exe); err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatal("copying test binary")
	}
	defer os.Remove(bin)
	tests := []struct {
		name string
		gid  int // the socket's group
		op   string
		want string
	}{
		{"stranger cannot read", -1, "status", "denied: permission denied"},
		{"group member can read", nogroup, "status", "ok"},
		{"group member cannot restart", nogroup, "restart", "denied: this needs root"},
		{"group member cannot reload", nogroup, "reload", "denied: this needs root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, b := serve(t, tt.gid)
			os.Chmod(filepath.Dir(path), 0o755)
			os.Chmod(path, 0o666) // let the connect through: the server's own check must refuse
			cmd := exec.Command(bin)
			cmd.Env = []string{"LOCALAPI_TEST_CLIENT=" + path, "LOCALAPI_TEST_OP=" + tt.op}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nogroup}}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("client: %v", err)
			}
			if !strings.HasPrefix(string(out), tt.want) {
				t.Errorf("got %q; want prefix %q", out, tt.want)
			}
			if b.restarts != 0 || b.reloads != 0 {
				t.Error("a non-root caller restarted the gateway or reloaded the config")
			}
		})
	}
}

func TestListenRefusesALiveSocketAndReplacesAStaleOne(t *testing.T) {
	path, _ := serve(t, -1)
	if _, err := Listen(path, -1); err == nil || !strings.Contains(err.Error(), "another openclawd is running") {
		t.Fatalf("second Listen on a live socket: %v", err)
	}
	stale := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays, nothing answers
	ln2, err := Listen(stale, -1)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln2.Close()
}

func TestClientNotRunning(t *testing.T) {
	_, err := NewClient(filepath.Join(t.TempDir(), "none.sock")).Status(context.Background())
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "systemctl status openclawd") {
		t.Errorf("err = %v; want ErrNotRunning with a hint", err)
	}
}
