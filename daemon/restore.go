package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/openclawd/openclawd/backup"
)

// Restore implements localapi.Backend: with the gateway paused (the daemon
// and the front end stay up), it swaps in a restore that `openclawd
// restore` staged, starts the gateway and holds the health gate. If the
// gateway does not come up, the previous state goes back, and the error
// says why. ctx is the caller's: gone before the swap, nothing happens.
func (d *Daemon) Restore(ctx context.Context, staged, archive string) (string, error) {
	l := d.config().Layout()
	if filepath.Dir(staged) != l.Restore() || !strings.HasPrefix(filepath.Base(staged), "staged-") {
		return "", fmt.Errorf("%s is not a staged restore in %s", staged, l.Restore())
	}
	if d.upgrading.Load() {
		return "", errors.New("an upgrade or rollback is running: wait for it to finish (`openclawd status`)")
	}
	if !d.restoring.CompareAndSwap(false, true) {
		return "", errors.New("a restore is running already")
	}
	defer d.restoring.Store(false)
	unlock, err := backup.Lock(ctx, l, 10*time.Minute) // a backup in progress finishes first
	if err != nil {
		return "", err
	}
	defer unlock()
	cfg := d.config()
	pctx, cancel := context.WithTimeout(context.Background(), cfg.Gateway.StopTimeout+30*time.Second)
	defer cancel()
	if ctx.Err() != nil {
		return "", fmt.Errorf("restore abandoned before anything changed: %w", ctx.Err())
	}
	d.log.Info("restoring", "archive", archive)
	if err := d.sup.Pause(pctx, "restoring "+filepath.Base(archive)); err != nil {
		d.sup.Resume()
		return "", err
	}
	j, err := backup.Activate(l, backup.Staged{Dir: staged, ID: strings.TrimPrefix(filepath.Base(staged), "staged-")}, archive)
	if err != nil {
		if j != nil {
			if uerr := backup.Undo(l, j); uerr != nil {
				return "", d.stuck(fmt.Errorf("%w; undoing it failed too: %w", err, uerr))
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

// stuck keeps the gateway from starting on a state that is neither the
// restored one nor the previous one, and says so in status and the log.
func (d *Daemon) stuck(err error) error {
	l := d.config().Layout()
	err = fmt.Errorf("%w: the gateway stays stopped rather than run on a mix of two states; fix the cause (see %s), then restart openclawd, which undoes the restore first", err, l.Restore())
	d.sup.Hold(err.Error())
	d.log.Error("restore could not be undone", "err", err)
	return err
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
	err := d.healthGate(context.Background(), time.Now(), 0)
	if err == nil {
		if err := backup.Commit(layout, j); err != nil {
			d.log.Warn("finishing the restore", "err", err)
		}
		d.log.Info("restore passed its health gate", "archive", j.Archive, "previous_state", j.Aside)
		return nil
	}
	why := err.Error()
	d.log.Error("the restored state failed its health gate; putting the previous state back", "archive", j.Archive, "reason", why)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Gateway.StopTimeout+30*time.Second)
	defer cancel()
	if err := d.sup.Pause(ctx, "undoing the restore"); err != nil {
		d.sup.Resume()
		return fmt.Errorf("the restored state failed (%s), and undoing it failed: %w", why, err)
	}
	if err := backup.Undo(layout, j); err != nil {
		return d.stuck(fmt.Errorf("the restored state failed (%s), and undoing it failed: %w", why, err))
	}
	d.afterSwap()
	d.sup.Resume()
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
			_ = d.stuck(fmt.Errorf("undoing an interrupted restore of %s failed: %w", j.Archive, err))
		} else {
			d.log.Warn("a restore was interrupted while swapping; the previous state is back", "archive", j.Archive)
		}
		return nil
	}
	d.log.Info("a restore was swapped in before openclawd stopped; this start is its health gate", "archive", j.Archive)
	return j
}
