package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/localapi/apitype"
)

// ErrNotRunning means nothing answers on the socket.
var ErrNotRunning = errors.New("openclawd is not running")

// AccessDeniedError is a 403 from the server.
type AccessDeniedError struct{ Msg string }

func (e *AccessDeniedError) Error() string { return e.Msg }

// Client talks to the API. The zero value is not usable: set Socket.
type Client struct {
	Socket string
	hc     *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	return &Client{Socket: path, hc: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
		},
	}}
}

// Status fetches GET /v1/status.
func (c *Client) Status(ctx context.Context) (apitype.Status, error) {
	var st apitype.Status
	err := c.do(ctx, http.MethodGet, "/v1/status", &st)
	return st, err
}

// Restart asks for a gateway restart.
func (c *Client) Restart(ctx context.Context) (apitype.RestartResponse, error) {
	var r apitype.RestartResponse
	err := c.do(ctx, http.MethodPost, "/v1/restart", &r)
	return r, err
}

// Reload asks openclawd to re-read its config, as SIGHUP does.
func (c *Client) Reload(ctx context.Context) (apitype.RestartResponse, error) {
	var r apitype.RestartResponse
	err := c.do(ctx, http.MethodPost, "/v1/reload", &r)
	return r, err
}

// Restore asks openclawd to swap in a staged restore; it answers after
// the health gate, so ctx should allow the gateway's start and stop.
func (c *Client) Restore(ctx context.Context, r apitype.RestoreRequest) (apitype.RestartResponse, error) {
	var out apitype.RestartResponse
	body, err := json.Marshal(r)
	if err != nil {
		return out, err
	}
	err = c.send(ctx, http.MethodPost, "/v1/restore", bytes.NewReader(body), &out)
	return out, err
}

// Upgrade resolves (and unless r.Check, begins) an upgrade or rollback;
// resolving asks the registry, so ctx should allow a minute or two.
func (c *Client) Upgrade(ctx context.Context, r apitype.UpgradeRequest) (apitype.UpgradePlan, error) {
	var out apitype.UpgradePlan
	body, err := json.Marshal(r)
	if err != nil {
		return out, err
	}
	err = c.send(ctx, http.MethodPost, "/v1/upgrade", bytes.NewReader(body), &out)
	return out, err
}

// TestAlerts sends a test message to every alert channel and says which
// worked.
func (c *Client) TestAlerts(ctx context.Context) ([]apitype.AlertTest, error) {
	var out []apitype.AlertTest
	err := c.do(ctx, http.MethodPost, "/v1/alerts/test", &out)
	return out, err
}

// ResumeSpend lifts the spend cap's pause for the rest of the day.
func (c *Client) ResumeSpend(ctx context.Context) (apitype.RestartResponse, error) {
	var r apitype.RestartResponse
	err := c.do(ctx, http.MethodPost, "/v1/spend/resume", &r)
	return r, err
}

// Reach asks the front end to answer a fresh token (doctor's
// reachability check).
func (c *Client) Reach(ctx context.Context) (apitype.Reach, error) {
	var r apitype.Reach
	err := c.do(ctx, http.MethodPost, "/v1/reach", &r)
	return r, err
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	return c.send(ctx, method, path, nil, out)
}

func (c *Client) send(ctx context.Context, method, path string, in io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+Host+path, in)
	if err != nil {
		return err
	}
	hc := c.hc
	if _, ok := ctx.Deadline(); ok && in != nil {
		// The caller's deadline rules a long call, not the 10 s default.
		cp := *c.hc
		cp.Timeout = 0
		hc = &cp
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("%w (nothing answers on %s; see `systemctl status openclawd` or start it with `openclawd run`)", ErrNotRunning, c.Socket)
		}
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES) {
			return &AccessDeniedError{Msg: fmt.Sprintf("cannot open %s: permission denied; run with sudo, or join the openclawd group", c.Socket)}
		}
		return fmt.Errorf("calling openclawd at %s: %w", c.Socket, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("reading reply from openclawd: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apitype.Error
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		if resp.StatusCode == http.StatusForbidden {
			return &AccessDeniedError{Msg: e.Error}
		}
		return errors.New(e.Error)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding reply from openclawd: %w", err)
	}
	return nil
}
