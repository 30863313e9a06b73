package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/localapi/apitype"
)

// doctor runs the gateway's own checks (doctor --lint, security audit)
// on a real instance, as the service user through the launcher, and
// prints them as `gateway` lines; what openclawd decided on purpose (the
// loopback bind) is explained, not failed.
func TestDoctorGatewayFindings(t *testing.T) {
	t.Parallel()
	in := newRealInstance(t)
	in.start() // provisions the runtime the CLI needs
	in.waitStatus("a healthy real gateway", 8*time.Minute, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Healthy
	})
	start := time.Now()
	out, rc := in.cli("doctor", "--config", in.cfg)
	t.Logf("FIGURE doctor_with_gateway_checks=%s (rc %d)", time.Since(start).Round(100*time.Millisecond), rc)
	for _, want := range []string{" gateway ", "audit", "doctor warning [core/doctor/node-hosting-preconditions]", "deliberate: openclawd binds the gateway to loopback"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "skipped its own checks") {
		t.Errorf("the gateway's checks were skipped:\n%s", out)
	}
}
