package daemon

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/statedir"
)

// backupPoll is how often the schedule is looked at; the first look is one
// period after start, so a backup never competes with the gateway's boot.
// OPENCLAWD_BACKUP_POLL shortens it for tests.
func backupPoll() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("OPENCLAWD_BACKUP_POLL")); err == nil && d > 0 {
		return d
	}
	return time.Minute
}

// backupRetry is the wait after a failed scheduled backup.
const backupRetry = 30 * time.Minute

// scheduleBackups makes a backup whenever the last good one is older than
// backup.every, whatever the gateway is doing: down and crash-looping are
// when one matters most. Each runs as `openclawd backup --scheduled`, a
// child of its own (its memory is not the daemon's; StartExempt keeps it
// out of the gateway's tree), which records its outcome for status.
func (d *Daemon) scheduleBackups(ctx context.Context) {
	poll := backupPoll()
	t := time.NewTicker(poll)
	defer t.Stop()
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cfg := d.config()
		if cfg.Backup.Every <= 0 || d.restoring.Load() || d.upgrading.Load() || !backupDue(cfg.Layout(), cfg.Backup.Every, time.Now()) {
			continue
		}
		if _, err := os.Stat(cfg.Layout().GatewayConfig()); err != nil {
			continue // the gateway has not run yet: nothing to back up
		}
		d.backingUp.Store(true)
		// Nice 10, below the gateway: a backup must not slow the bot's
		// replies. What it starts (the openclaw CLI) inherits this.
		out, err := d.runChild(ctx, 10, "backup", "--scheduled", "--config", cfg.Path)
		d.backingUp.Store(false)
		if err != nil {
			// Said once per distinct failure; status shows it until fixed.
			if msg := err.Error(); msg != lastErr {
				d.log.Error("scheduled backup failed; `openclawd status` shows it, and it is tried again later", "err", err, "output", d.secrets.Redact(strings.TrimSpace(string(out))))
				lastErr = msg
			}
			continue
		}
		lastErr = ""
		d.log.Info("scheduled backup done", "output", d.secrets.Redact(strings.TrimSpace(string(out))))
	}
}

// backupDue reports whether a scheduled backup should run now: the last
// good one is older than every, and the last failure is older than
// backupRetry.
func backupDue(l statedir.Layout, every time.Duration, now time.Time) bool {
	r, err := backup.ReadRecord(l)
	if err != nil || r.Local == nil {
		return true
	}
	if now.Sub(r.Local.LastGood) < every {
		return false
	}
	return r.Local.Error == "" || now.Sub(r.Local.At) >= backupRetry
}
