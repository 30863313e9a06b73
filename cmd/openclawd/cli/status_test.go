package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/localapi/apitype"
)

func TestPrintStatus(t *testing.T) {
	tick := time.Now().Add(-12 * time.Second)
	tests := []struct {
		name string
		st   apitype.Status
		want []string
		not  []string
	}{
		{"healthy", apitype.Status{State: "running", Healthy: true, Version: "1.0", PID: 10, UptimeS: 7300,
			Gateway: apitype.Gateway{State: "running", PID: 11, Port: 18789, UptimeS: 60, Restarts: 2},
			Health:  apitype.Health{Live: true, Started: true, Version: "2026.9.6", Deep: apitype.Deep{Enabled: true, HelloOK: true, LastTick: &tick}}},
			[]string{"● openclawd is running; the gateway is healthy", "up 2h01m", "pid 11, up 1m0s, port 18789 (loopback), 2 restarts", "version 2026.9.6", "websocket ok (last tick 12s ago)"},
			[]string{"What to do", "\x1b["}},
		{"failed with a fix", apitype.Status{State: "running", Gateway: apitype.Gateway{State: "failed", Port: 1,
			LastExit: &apitype.Exit{Code: 78, At: time.Now(), Reason: "refused its configuration"}},
			Warnings:  []apitype.Warning{{Code: "config_invalid", Severity: "error", Text: "bad key", Fix: "Fix it"}},
			NextSteps: []string{"Fix it"}},
			[]string{"✗ openclawd is running; the gateway is failed", "not live", "last exit", "refused its configuration", "error [config_invalid] bad key", "What to do:", "→ Fix it"}, nil},
		{"not running", apitype.Status{State: "not_running", NextSteps: []string{"Start it"}},
			[]string{"✗ openclawd is not running", "→ Start it"}, []string{"gateway "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printStatus(&b, tt.st, palette{})
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if n := strings.Count(out, "\n"); n > 12 {
				t.Errorf("%d lines; status must fit one short screen", n)
			}
		})
	}
}

func TestUsageAndUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := Main([]string{"bogus"}, &out, &errb); rc != ExitUsage || !strings.Contains(errb.String(), `unknown command "bogus"`) {
		t.Errorf("rc %d stderr %q", rc, errb.String())
	}
	out.Reset()
	if rc := Main([]string{"help"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "status") {
		t.Errorf("help: rc %d out %q", rc, out.String())
	}
}
