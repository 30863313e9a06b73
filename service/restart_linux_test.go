package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestart runs Restart against a fake systemctl that logs its argv.
func TestRestart(t *testing.T) {
	tests := []struct {
		name      string
		systemd   bool
		failVerb  string // the systemctl verb that fails
		wantCalls string
		wantErr   error
		wantMsg   string
	}{
		{name: "no systemd: nothing is run", wantErr: ErrNoServiceManager},
		{name: "reset-failed, then restart without waiting", systemd: true,
			wantCalls: "reset-failed openclawd.service\nrestart --no-block openclawd.service\n"},
		{name: "a failed reset-failed does not matter", systemd: true, failVerb: "reset-failed",
			wantCalls: "reset-failed openclawd.service\nrestart --no-block openclawd.service\n"},
		{name: "a failed restart says how to install", systemd: true, failVerb: "restart",
			wantCalls: "reset-failed openclawd.service\nrestart --no-block openclawd.service\n",
			wantMsg:   "sudo openclawd service install"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := t.TempDir()
			log := filepath.Join(bin, "log")
			script := "#!/bin/sh\necho \"$*\" >> " + log + "\n[ \"$1\" != \"" + tt.failVerb + "\" ] || { echo no such unit >&2; exit 5; }\n"
			if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
			setHost(t, func(h *Probes) {
				h.SystemdDir = filepath.Join(bin, "none")
				if tt.systemd {
					h.SystemdDir = bin
				}
			})
			err := Restart(context.Background())
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("err = %v; want %v", err, tt.wantErr)
			case tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)):
				t.Errorf("err = %v; want one with %q", err, tt.wantMsg)
			case tt.wantErr == nil && tt.wantMsg == "" && err != nil:
				t.Errorf("err = %v", err)
			}
			calls, _ := os.ReadFile(log)
			if string(calls) != tt.wantCalls {
				t.Errorf("systemctl calls:\n%s\nwant:\n%s", calls, tt.wantCalls)
			}
		})
	}
}
