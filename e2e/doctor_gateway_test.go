package e2e

import (
	"strings"
	"testing"
)

// doctor runs the gateway's own checks (doctor --lint, security audit)
// on a real instance and prints them as `gateway` lines. Needs the lead's
// call of gatewayFindings from doctor.go.
func TestDoctorGatewayFindings(t *testing.T) {
	in := newRealInstance(t)
	in.start() // provisions the runtime the CLI needs
	out, rc := in.cli("doctor", "--config", in.cfg)
	t.Logf("doctor rc %d", rc)
	for _, want := range []string{" gateway ", "audit"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}
