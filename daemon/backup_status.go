package daemon

import (
	"fmt"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// backupStatus reads the backup record for status, with its warnings: a
// failed backup or copy, and a last good one older than twice the schedule.
func (d *Daemon) backupStatus(cfg *config.Config, now time.Time) (*apitype.Backup, []apitype.Warning) {
	rec, err := backup.ReadRecord(cfg.Layout())
	b := &apitype.Backup{Running: d.backingUp.Load(), Restoring: d.restoring.Load()}
	if cfg.Backup.Every > 0 {
		b.Every = cfg.Backup.Every.String()
	}
	if err != nil {
		return b, []apitype.Warning{{Code: "backup_record", Severity: "warning", Text: "cannot read the backup record: " + err.Error(),
			Fix: "Run `sudo openclawd backup` to make a backup and a new record."}}
	}
	b.Local = attempt(rec.Local)
	for name, a := range rec.Targets {
		if _, ok := cfg.Backup.Target(name); !ok {
			continue // a target since removed from the config
		}
		if b.Targets == nil {
			b.Targets = map[string]*apitype.BackupAttempt{}
		}
		b.Targets[name] = attempt(a)
	}
	return b, backupWarnings(cfg, rec, now, now.Sub(d.started))
}

func backupWarnings(cfg *config.Config, rec backup.Record, now time.Time, uptime time.Duration) []apitype.Warning {
	var ws []apitype.Warning
	every := cfg.Backup.Every
	switch l := rec.Local; {
	case l == nil && every > 0 && uptime > every:
		ws = append(ws, apitype.Warning{Code: "no_backup", Severity: "warning",
			Text: fmt.Sprintf("no backup has been made yet, though the schedule is every %s", every),
			Fix:  "Run `sudo openclawd backup` and read what it says."})
	case l == nil:
	case l.Error != "":
		ws = append(ws, apitype.Warning{Code: "backup_failed", Severity: "warning",
			Text: fmt.Sprintf("the last backup (%s) failed: %s", l.At.Local().Format(time.DateTime), l.Error),
			Fix:  "Fix the cause, then run `sudo openclawd backup`."})
	}
	if l := rec.Local; l != nil && every > 0 && !l.LastGood.IsZero() && now.Sub(l.LastGood) > 2*every {
		ws = append(ws, apitype.Warning{Code: "backup_stale", Severity: "warning",
			Text: fmt.Sprintf("the last good backup is from %s, more than twice the schedule (%s) ago", l.LastGood.Local().Format(time.DateTime), every),
			Fix:  "Run `sudo openclawd backup` and read what it says; `openclawd logs` shows why scheduled ones failed."})
	}
	for _, t := range cfg.Backup.Targets {
		a := rec.Targets[t.Name]
		switch {
		case a == nil:
		case a.Error != "":
			ws = append(ws, apitype.Warning{Code: "backup_copy_failed", Severity: "warning",
				Text: fmt.Sprintf("the last copy to %s (%s) failed: %s", t.Name, a.At.Local().Format(time.DateTime), a.Error),
				Fix:  fmt.Sprintf("Fix the cause, then run `sudo openclawd backup --to %s`.", t.Name)})
		case every > 0 && now.Sub(a.LastGood) > 2*every:
			ws = append(ws, apitype.Warning{Code: "backup_copy_stale", Severity: "warning",
				Text: fmt.Sprintf("the last good copy to %s is from %s, more than twice the schedule ago", t.Name, a.LastGood.Local().Format(time.DateTime)),
				Fix:  fmt.Sprintf("Run `sudo openclawd backup --to %s`.", t.Name)})
		}
	}
	return ws
}

func attempt(a *backup.Attempt) *apitype.BackupAttempt {
	if a == nil {
		return nil
	}
	return &apitype.BackupAttempt{At: a.At, Name: a.Name, Size: a.Size, Verified: a.Verified, Error: a.Error,
		LastGood: a.LastGood, LastName: a.LastName, LastSize: a.LastSize}
}
