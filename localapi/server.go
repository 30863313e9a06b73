// Package localapi is openclawd's local control API: versioned HTTP+JSON on
// a unix socket, used by `openclawd status` and `openclawd restart`. The
// server checks the peer's credentials on every request and refuses
// anything that looks like it came from a browser. It depends on a narrow
// Backend, never on the daemon.
package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/internal/peercred"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// Backend is what the API serves.
type Backend interface {
	Status() apitype.Status
	Restart(reason string) error
	// Reload re-reads the config, as SIGHUP does, and says what it did.
	Reload() (string, error)
	// Restore swaps in a staged restore and holds its health gate.
	// ctx ends when the caller goes away.
	Restore(ctx context.Context, staged, archive string) (string, error)
	// Upgrade resolves an upgrade or rollback and, unless req.Check,
	// begins it; status follows its steps.
	Upgrade(ctx context.Context, req apitype.UpgradeRequest) (apitype.UpgradePlan, error)
	// TestAlerts sends a test message to every alert channel now.
	TestAlerts(ctx context.Context) []apitype.AlertTest
	// ResumeSpend lifts a spend cap's pause until the next day begins.
	ResumeSpend(ctx context.Context) (string, error)
	// Reach has the front end answer a fresh token for a short while, so
	// that doctor can fetch it back through the public name.
	Reach() (apitype.Reach, error)
}

// Host is the Host header the client sends; others are refused, which
// blocks DNS-rebinding and forwarded browser requests.
const Host = "local-openclawd.sock"

// Server serves the API on a unix socket.
type Server struct {
	b     Backend
	gid   int // members may read; -1 for none
	log   *slog.Logger
	srv   *http.Server
	ln    net.Listener
	path  string
	write map[string]bool // routes that change state
}

type connKey struct{}

// Listen opens the socket at path: 0660, group gid (-1 keeps ours), in a
// 0750 directory. A socket that still answers means another openclawd is
// running; a dead one is replaced.
func Listen(path string, gid int) (net.Listener, error) {
	dir := filepath.Dir(path)
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating control socket directory: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s answers: another openclawd is running (stop it first, e.g. `systemctl stop openclawd`)", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale control socket: %w", err)
	}
	old := syscall.Umask(0o117) // no window in which the socket is world-accessible
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listening on control socket: %w", err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("setting control socket group: %w", err)
		}
		if created { // never regroup a directory we did not make, such as /run
			_ = os.Chown(dir, -1, gid)
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("setting control socket mode: %w", err)
	}
	return ln, nil
}

// NewServer serves b on ln. Members of gid may read status; changes need
// root or openclawd's own user.
func NewServer(ln net.Listener, b Backend, gid int, log *slog.Logger) *Server {
	s := &Server{b: b, gid: gid, log: log, ln: ln, path: ln.Addr().String(),
		write: map[string]bool{"/v1/restart": true, "/v1/reload": true, "/v1/restore": true, "/v1/upgrade": true,
			"/v1/alerts/test": true, "/v1/spend/resume": true}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("POST /v1/restart", s.restart)
	mux.HandleFunc("POST /v1/reload", s.reload)
	mux.HandleFunc("POST /v1/restore", s.restore)
	mux.HandleFunc("POST /v1/upgrade", s.upgrade)
	mux.HandleFunc("POST /v1/alerts/test", s.testAlerts)
	mux.HandleFunc("POST /v1/spend/resume", s.resumeSpend)
	// Not write-protected: the token is the daemon's own random value,
	// served only to whoever already has it.
	mux.HandleFunc("POST /v1/reach", s.reach)
	s.srv = &http.Server{
		Handler:           s.guard(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// Start serves in the background.
func (s *Server) Start(context.Context) error {
	go func() {
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("control API stopped", "err", err)
		}
	}()
	return nil
}

// Stop closes the socket and removes its file. Safe to call twice.
func (s *Server) Stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	_ = os.Remove(s.path)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// guard refuses browser-style requests and checks the peer's credentials.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Openclawd-API-Version", "1")
		if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" ||
			r.Header.Get("Sec-Fetch-Site") != "" || r.Host != Host {
			writeJSON(w, http.StatusForbidden, apitype.Error{Error: "browser-style requests are refused; use the openclawd command"})
			return
		}
		c, _ := r.Context().Value(connKey{}).(net.Conn)
		cred, err := peercred.Get(c)
		if err != nil {
			writeJSON(w, http.StatusForbidden, apitype.Error{Error: "cannot identify the caller: " + err.Error()})
			return
		}
		owner := cred.UID == 0 || cred.UID == os.Geteuid()
		switch {
		case s.write[r.URL.Path] && !owner:
			writeJSON(w, http.StatusForbidden, apitype.Error{Error: "this needs root: run it with sudo"})
			return
		case !owner && (s.gid < 0 || !cred.InGroup(s.gid)):
			writeJSON(w, http.StatusForbidden, apitype.Error{Error: "permission denied: run it with sudo, or join the openclawd group"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.Status())
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	if err := s.b.Restart("requested through the control API"); err != nil {
		writeJSON(w, http.StatusConflict, apitype.Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, apitype.RestartResponse{OK: true, Message: "gateway restart requested"})
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	msg, err := s.b.Reload()
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apitype.Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, apitype.RestartResponse{OK: true, Message: msg})
}

func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	var req apitype.RestoreRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.Staged == "" {
		writeJSON(w, http.StatusBadRequest, apitype.Error{Error: "a restore request names a staged directory"})
		return
	}
	msg, err := s.b.Restore(r.Context(), req.Staged, req.Archive)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apitype.Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, apitype.RestartResponse{OK: true, Message: msg})
}

func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) {
	var req apitype.UpgradeRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apitype.Error{Error: "an upgrade request is JSON: " + err.Error()})
		return
	}
	p, err := s.b.Upgrade(r.Context(), req)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apitype.Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) testAlerts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.TestAlerts(r.Context()))
}

func (s *Server) resumeSpend(w http.ResponseWriter, r *http.Request) {
	msg, err := s.b.ResumeSpend(r.Context())
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apitype.Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, apitype.RestartResponse{OK: true, Message: msg})
}

func (s *Server) reach(w http.ResponseWriter, _ *http.Request) {
	r, err := s.b.Reach()
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apitype.Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, r)
}
