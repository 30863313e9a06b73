package cli

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/backup/target"
	"github.com/openclawd/openclawd/config"
)

// backupChecks says whether backups can work: the last one, and each
// target reached (and written, for a directory) with its credentials.
func backupChecks(cfg *config.Config) []check {
	var out []check
	rec, err := backup.ReadRecord(cfg.Layout())
	switch {
	case err != nil:
		out = append(out, check{name: "backup", result: "the record is unreadable: " + err.Error(), fix: "sudo openclawd backup"})
	case rec.Local == nil:
		out = append(out, check{name: "backup", result: "none made yet", ok: true, fix: "sudo openclawd backup"})
	case rec.Local.Error != "":
		out = append(out, check{name: "backup", result: "the last one failed: " + rec.Local.Error, fix: "fix that, then `sudo openclawd backup`"})
	default:
		out = append(out, check{name: "backup", ok: true, result: fmt.Sprintf("last good %s ago (%s)", time.Since(rec.Local.LastGood).Round(time.Minute), rec.Local.LastName)})
	}
	if len(cfg.Backup.Targets) > 0 && len(cfg.Backup.Recipients) == 0 {
		out = append(out, check{name: "backup", ok: true, result: "copies to targets are NOT encrypted (no backup.recipients); they hold the gateway token and API keys",
			fix: "`openclawd backup keygen`, then put the public key in backup.recipients"})
	}
	for _, tc := range cfg.Backup.Targets {
		c := check{name: "backup " + tc.Name}
		t, err := openTarget(cfg, tc.Name)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if ck, ok := t.(target.Checker); ok {
				err = ck.Check(ctx)
			}
			cancel()
		}
		if err != nil {
			c.result = err.Error()
		} else {
			c.ok, c.result = true, "reachable: "+t.Describe()
		}
		if tc.Type == "dir" {
			if fix := sandboxFix(tc.Path); fix != "" {
				c.ok, c.fix = false, fix
				c.result += "; but the service's sandbox keeps it read-only"
			}
		}
		out = append(out, c)
	}
	return out
}

// sandboxFix is what the packaged unit needs for a directory target
// outside the state dir (ProtectSystem=strict makes the rest read-only),
// or "" when systemd does not run openclawd or already allows it.
func sandboxFix(path string) string {
	b, err := exec.Command("systemctl", "show", "-p", "ReadWritePaths", "-p", "ProtectSystem", "openclawd").Output()
	if err != nil || !strings.Contains(string(b), "ProtectSystem=strict") {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rw, ok := strings.CutPrefix(line, "ReadWritePaths="); ok {
			for _, p := range strings.Fields(rw) {
				p = strings.TrimLeft(p, "-+")
				if rel, err := filepath.Rel(p, path); err == nil && !strings.HasPrefix(rel, "..") {
					return ""
				}
			}
		}
	}
	return fmt.Sprintf("`sudo systemctl edit openclawd`, add `[Service]` and `ReadWritePaths=%s`, then `sudo systemctl restart openclawd`", path)
}
