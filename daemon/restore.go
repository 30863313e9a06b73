package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/supervisor"
)

// Restore implements localapi.Backend: with the gateway paused (the daemon
// and the front end stay up), it swaps in a restore that `openclawd
// restore` staged, starts the gateway and holds the health gate. If the
// gateway does not come up, the previous state goes back, and the error
// says why.
func (d *Daemon) Restore(staged, archive string) (string, error) {
	l := d.config().Layout()
	if filepath.Dir(staged) != l.Restore() || !strings.HasPrefix(filepath.Base(staged), "staged-") {
		return "", fmt.Errorf("%s is not a staged restore in %s", staged, l.Restore())
	}
	if !d.restoring.CompareAndSwap(false, true) {
		return "", errors.New("a restore is running already")
	}
	defer d.restoring.Store(false)
	unlock, err := backup.Lock(context.Background(), l, 10*time.Minute) // a backup in progress finishes first
	if err != nil {
		return "", err
	}
	defer unlock()
	cfg := d.config()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Gateway.StopTimeout+30*time.Second)
	defer cancel()
	d.log.Info("restoring", "archive", archive)
	if err := d.sup.Pause(ctx, "restoring "+filepath.Base(archive)); err != nil {
		d.sup.Resume()
		return "", err
	}
	j, err := backup.Activate(l, backup.Staged{Dir: staged, ID: strings.TrimPrefix(filepath.Base(staged), "staged-")}, archive)
	if err != nil {
		if j != nil {
			if uerr := backup.Undo(l, j); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
		d.sup.Resume()
		return "", fmt.Errorf("%w; the previous state is in place", err)
	}
	d.afterSwap()
	d.sup.Resume()
	if err := d.gate(j); err != nil {
		return "", err
	}
	return fmt.Sprintf("restored %s: the gateway is healthy on it; the previous state is kept in %s", filepath.Base(archive), j.Aside), nil
}

// afterSwap makes the running daemon read what a swap replaced: Caddy's
// storage (certificates) and the gateway config's watch.
func (d *Daemon) afterSwap() {
	cfg := d.config()
	if d.caddy != nil && cfg.TLS.Mode != "off" {
		if err := d.caddy.Reload(CaddyOptions(cfg, d.gatewayHealthy, d.caddyLog)); err != nil {
			d.log.Warn("HTTPS config not reloaded after the restore", "err", err)
		}
	}
	d.gwWatch.refresh() // the restored openclaw.json is not an edit
}

// gate waits for the gateway on the restored state to become healthy
// (/startupz, and the WebSocket hello-ok when deep probes are on), then
// commits the restore; otherwise it pauses the gateway, undoes the swap
// and resumes on the previous state.
func (d *Daemon) gate(j *backup.Journal) error {
	cfg := d.config()
	layout := cfg.Layout()
	deadline := time.Now().Add(cfg.Health.StartupTimeout + 30*time.Second)
	why := ""
	for why == "" {
		ss, hs := d.sup.Status(), d.health.Snapshot()
		switch {
		case ss.State == supervisor.Running && ss.PID != 0 && hs.Live && (!cfg.Health.DeepProbe() || hs.Deep.HelloOK):
			if err := backup.Commit(layout, j); err != nil {
				d.log.Warn("finishing the restore", "err", err)
			}
			d.log.Info("restore passed its health gate", "archive", j.Archive, "previous_state", j.Aside)
			return nil
		case ss.State == supervisor.Failed || ss.State == supervisor.Backoff && ss.Crashes >= 2:
			why = ss.Reason
			if ss.LastExit != nil && ss.LastExit.Reason != "" {
				why = ss.LastExit.Reason
			}
		case time.Now().After(deadline):
			why = fmt.Sprintf("not healthy within %s (%s)", cfg.Health.StartupTimeout+30*time.Second, ss.State)
		default:
			time.Sleep(100 * time.Millisecond)
		}
	}
	d.log.Error("the restored state failed its health gate; putting the previous state back", "archive", j.Archive, "reason", why)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Gateway.StopTimeout+30*time.Second)
	defer cancel()
	if err := d.sup.Pause(ctx, "undoing the restore"); err != nil {
		d.sup.Resume()
		return fmt.Errorf("the restored state failed (%s), and undoing it failed: %w", why, err)
	}
	err := backup.Undo(layout, j)
	d.afterSwap()
	d.sup.Resume()
	if err != nil {
		return fmt.Errorf("the restored state failed (%s), and undoing it failed: %w; see %s", why, err, layout.Restore())
	}
	return fmt.Errorf("the gateway did not come up on the restored state: %s; the previous state is back, and the restored one is in %s", why, filepath.Join(layout.Restore(), "failed-"+j.ID))
}

// recoverRestore finishes what an interrupted restore left, before the
// gateway first starts: a swap cut short is undone; a complete one gets
// its health gate on this start (see gate). It returns that journal.
func (d *Daemon) recoverRestore() *backup.Journal {
	l := d.config().Layout()
	backup.CleanStaged(l)
	j, err := backup.Pending(l)
	if err != nil {
		d.log.Error("cannot read the restore journal; the state is used as it is", "err", err)
		return nil
	}
	if j == nil {
		return nil
	}
	if j.Phase != backup.PhaseGate {
		if err := backup.Undo(l, j); err != nil {
			d.log.Error("undoing an interrupted restore failed; see the restore directory", "archive", j.Archive, "err", err, "dir", l.Restore())
		} else {
			d.log.Warn("a restore was interrupted while swapping; the previous state is back", "archive", j.Archive)
		}
		return nil
	}
	d.log.Info("a restore was swapped in before openclawd stopped; this start is its health gate", "archive", j.Archive)
	return j
}
