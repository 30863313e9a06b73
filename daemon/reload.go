package daemon

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/supervisor"
)

// reload re-reads the config. An invalid file is reported and ignored; a
// valid one applies to the next gateway start, and restarts a gateway that
// failed, since the change may be its fix. It returns what it did, for
// `openclawd reload`.
func (d *Daemon) reload(why string) (string, error) {
	old := d.config()
	cfg, err := config.Load(old.Path)
	if err != nil {
		d.log.Error("config not reloaded: it is invalid; the running configuration stays", "why", why, "err", err)
		return "", fmt.Errorf("config not reloaded; the running configuration stays: %w", err)
	}
	var notes []string
	if cfg.Gateway.Port != old.Gateway.Port || cfg.StateDir != old.StateDir || cfg.Control != old.Control {
		msg := "gateway.port, state_dir and control changes apply only after openclawd restarts (systemctl restart openclawd)"
		d.log.Warn(msg)
		notes = append(notes, msg)
		cfg.Gateway.Port, cfg.StateDir, cfg.Control = old.Gateway.Port, old.StateDir, old.Control
	}
	if err := Check(cfg); err != nil {
		d.log.Error("config not reloaded: it is invalid; the running configuration stays", "why", why, "err", err)
		return "", fmt.Errorf("config not reloaded; the running configuration stays: %w", err)
	}
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	if d.caddy != nil && cfg.TLS.Mode != "off" {
		if err := d.caddy.Reload(CaddyOptions(cfg, d.gatewayHealthy, d.caddyLog)); err != nil {
			d.log.Error("HTTPS config not applied; the previous one keeps serving", "err", err)
			return "", fmt.Errorf("HTTPS config not applied; the previous one keeps serving: %w", err)
		}
		notes = append(notes, "HTTPS config applied; open connections stay")
	} else if (d.caddy != nil) != (cfg.TLS.Mode != "off") {
		msg := "turning tls on or off needs `systemctl restart openclawd`"
		d.log.Warn(msg)
		notes = append(notes, msg)
	}
	d.checks.trigger()
	d.reconfigureAlerts(cfg)
	if st := d.sup.Status(); st.State == supervisor.Failed || st.State == supervisor.Backoff {
		d.log.Info("config reloaded; restarting the gateway", "why", why)
		d.sup.Restart("configuration changed")
		return strings.Join(append(notes, "config reloaded; the gateway, which was down, is restarting"), "; "), nil
	}
	d.log.Info("config reloaded: gateway.command, gateway.env and gateway.env_file apply at the next gateway start (`openclawd restart`); other settings need `systemctl restart openclawd`", "why", why)
	return strings.Join(append(notes, "config reloaded; gateway.command, gateway.env and gateway.env_file apply at the next gateway start (`openclawd restart`)"), "; "), nil
}

// Reload implements localapi.Backend: the main loop reloads, as on SIGHUP,
// and the answer comes back here.
func (d *Daemon) Reload() (string, error) {
	reply := make(chan reloadResult, 1)
	select {
	case d.reloadReq <- reply:
	case <-time.After(10 * time.Second):
		return "", errors.New("openclawd is busy; try again, or send SIGHUP")
	}
	r := <-reply
	return r.msg, r.err
}

type reloadResult struct {
	msg string
	err error
}

// gatewayConfigChanged restarts a gateway that failed, since the edit of
// openclaw.json may be the fix.
func (d *Daemon) gatewayConfigChanged() {
	if st := d.sup.Status(); st.State == supervisor.Failed {
		d.log.Info("openclaw.json changed; restarting the failed gateway")
		d.sup.Restart("openclaw.json changed")
	}
}

// fileWatch notices edits of files by size, mtime and mode.
type fileWatch struct {
	mu    sync.Mutex
	paths []string
	seen  map[string]string
}

// refresh records the current state as seen: openclawd's own writes are
// not edits.
func (w *fileWatch) refresh() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.paths {
		w.seen[p] = stamp(p)
	}
}

func newFileWatch(paths ...string) *fileWatch {
	w := &fileWatch{seen: map[string]string{}}
	for _, p := range paths {
		if p != "" {
			w.paths = append(w.paths, p)
			w.seen[p] = stamp(p)
		}
	}
	return w
}

func (w *fileWatch) changed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := false
	for _, p := range w.paths {
		if s := stamp(p); s != w.seen[p] {
			w.seen[p], changed = s, true
		}
	}
	return changed
}

func stamp(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d/%d/%v", fi.Size(), fi.ModTime().UnixNano(), fi.Mode())
}
