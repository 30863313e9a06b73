package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/supervisor"
)

func TestGatewayStateAndWarnings(t *testing.T) {
	live := health.Status{Started: true, Live: true, CheckedAt: time.Now()}
	tests := []struct {
		name      string
		ss        supervisor.Status
		hs        health.Status
		wantState string
		wantCodes []string
		fixHas    string
	}{
		{"healthy", supervisor.Status{State: supervisor.Running, PID: 9}, live, apitype.GatewayRunning, nil, ""},
		{"exited, restart being prepared", supervisor.Status{State: supervisor.Running, PID: 0}, live, apitype.GatewayStarting, nil, ""},
		{"failing checks make it unhealthy", supervisor.Status{State: supervisor.Running, PID: 9},
			health.Status{Started: true, Live: false, ConsecutiveFailures: 2, LastError: "timeout"},
			apitype.GatewayUnhealthy, []string{"gateway_unhealthy"}, "openclawd logs"},
		{"config error", supervisor.Status{State: supervisor.Failed, Code: supervisor.CodeConfigInvalid, Reason: "exit 78: bad key"},
			health.Status{}, apitype.GatewayFailed, []string{"config_invalid"}, "openclawd restart"},
		{"not loopback", supervisor.Status{State: supervisor.Failed, Code: supervisor.CodeNotLoopback, Reason: "0.0.0.0:1"},
			health.Status{}, apitype.GatewayFailed, []string{"not_loopback"}, "loopback only"},
		{"port in use", supervisor.Status{State: supervisor.Backoff, Code: supervisor.CodePortInUse, Reason: "pid 1 (nginx)"},
			health.Status{}, apitype.GatewayBackoff, []string{"port_in_use"}, "gateway.port"},
		{"crash loop", supervisor.Status{State: supervisor.Backoff, Code: supervisor.CodeCrashLoop, Reason: "crash loop"},
			health.Status{}, apitype.GatewayBackoff, []string{"crash_loop"}, "openclawd logs"},
		{"token refused", supervisor.Status{State: supervisor.Running, PID: 9},
			health.Status{Started: true, Live: true, Deep: health.DeepStatus{Code: "AUTH_TOKEN_MISMATCH", Error: "token mismatch"}},
			apitype.GatewayRunning, []string{"gateway_token_mismatch"}, "OPENCLAW_GATEWAY_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gatewayStatus(tt.ss, tt.hs, 18789)
			if g.State != tt.wantState {
				t.Errorf("state %q; want %q", g.State, tt.wantState)
			}
			ws := warnings(tt.ss, tt.hs, "/etc/openclawd/openclawd.yaml")
			var codes []string
			for _, w := range ws {
				codes = append(codes, w.Code)
				if tt.fixHas != "" && !strings.Contains(w.Fix, tt.fixHas) {
					t.Errorf("warning %s fix %q lacks %q", w.Code, w.Fix, tt.fixHas)
				}
			}
			if strings.Join(codes, ",") != strings.Join(tt.wantCodes, ",") {
				t.Errorf("warning codes %v; want %v", codes, tt.wantCodes)
			}
		})
	}
}

func TestStaleProbeResultsDoNotShowForADeadGateway(t *testing.T) {
	h := healthStatus(health.Status{Started: true, Live: true}, true, supervisor.Status{State: supervisor.Backoff})
	if h.Live || h.Started {
		t.Errorf("backoff gateway reported live=%v started=%v", h.Live, h.Started)
	}
}
