package daemon

import (
	"slices"
	"testing"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/config"
)

func TestBackupWarnings(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cfg := config.Default()
	cfg.Backup.Targets = []config.BackupTarget{{Name: "offsite", Type: "s3"}}
	good := func(age time.Duration) *backup.Attempt {
		return &backup.Attempt{At: now.Add(-age), LastGood: now.Add(-age), Name: "a.tar", Verified: true}
	}
	failed := func(age, goodAge time.Duration) *backup.Attempt {
		return &backup.Attempt{At: now.Add(-age), Error: "disk full", LastGood: now.Add(-goodAge)}
	}
	tests := []struct {
		name   string
		rec    backup.Record
		uptime time.Duration
		every  time.Duration
		want   []string
	}{
		{"fresh and copied", backup.Record{Local: good(time.Hour), Targets: map[string]*backup.Attempt{"offsite": good(time.Hour)}}, time.Hour, 24 * time.Hour, nil},
		{"none yet, just started", backup.Record{}, time.Hour, 24 * time.Hour, nil},
		{"none after a whole period", backup.Record{}, 25 * time.Hour, 24 * time.Hour, []string{"no_backup"}},
		{"schedule off, none", backup.Record{}, 100 * time.Hour, 0, nil},
		{"last one failed, still fresh", backup.Record{Local: failed(time.Minute, 20*time.Hour)}, time.Hour, 24 * time.Hour, []string{"backup_failed"}},
		{"failing for two periods", backup.Record{Local: failed(time.Minute, 49*time.Hour)}, time.Hour, 24 * time.Hour, []string{"backup_failed", "backup_stale"}},
		{"good but old", backup.Record{Local: good(49 * time.Hour)}, time.Hour, 24 * time.Hour, []string{"backup_stale"}},
		{"old but the schedule is off", backup.Record{Local: good(490 * time.Hour)}, time.Hour, 0, nil},
		{"copy failed", backup.Record{Local: good(time.Hour), Targets: map[string]*backup.Attempt{"offsite": failed(time.Hour, 30*time.Hour)}}, time.Hour, 24 * time.Hour, []string{"backup_copy_failed"}},
		{"copy stale", backup.Record{Local: good(time.Hour), Targets: map[string]*backup.Attempt{"offsite": good(50 * time.Hour)}}, time.Hour, 24 * time.Hour, []string{"backup_copy_stale"}},
		{"a removed target is not reported", backup.Record{Local: good(time.Hour), Targets: map[string]*backup.Attempt{"gone": failed(time.Hour, 90*time.Hour)}}, time.Hour, 24 * time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *cfg
			c.Backup.Every = tt.every
			var got []string
			for _, w := range backupWarnings(&c, tt.rec, now, tt.uptime) {
				got = append(got, w.Code)
				if w.Fix == "" || w.Text == "" {
					t.Errorf("%s has no text or fix", w.Code)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings %v; want %v", got, tt.want)
			}
		})
	}
}

func TestBackupDue(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rec  *backup.Attempt
		want bool
	}{
		{"never", nil, true},
		{"recent", &backup.Attempt{At: now.Add(-time.Hour), LastGood: now.Add(-time.Hour)}, false},
		{"old", &backup.Attempt{At: now.Add(-25 * time.Hour), LastGood: now.Add(-25 * time.Hour)}, true},
		{"old, failed a minute ago", &backup.Attempt{At: now.Add(-time.Minute), Error: "x", LastGood: now.Add(-25 * time.Hour)}, false},
		{"old, failed an hour ago", &backup.Attempt{At: now.Add(-time.Hour), Error: "x", LastGood: now.Add(-25 * time.Hour)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.StateDir = t.TempDir()
			if err := cfg.Layout().Ensure(); err != nil {
				t.Fatal(err)
			}
			if tt.rec != nil {
				if err := backup.Note(cfg.Layout(), "", *tt.rec); err != nil {
					t.Fatal(err)
				}
			}
			if got := backupDue(cfg.Layout(), 24*time.Hour, now); got != tt.want {
				t.Errorf("due = %v; want %v", got, tt.want)
			}
		})
	}
}
