package localapi

import (
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

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+Host+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
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
