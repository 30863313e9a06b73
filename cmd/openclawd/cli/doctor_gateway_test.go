package cli

import (
	"os"
	"strings"
	"testing"
)

// testdata/gateway-*.json are what openclaw 2026.9.6 printed for a state
// dir openclawd wrote (docs/gateway-doctor.md).
func TestGatewayFindingsParse(t *testing.T) {
	tests := []struct {
		name, file string
		parse      func([]byte) ([]check, error)
		want       []string // substrings of results, in order
		wantFix    string
		allOK      bool
	}{
		{"doctor lint", "testdata/gateway-doctor-lint.json", parseGatewayLint,
			[]string{"doctor warning [core/doctor/heartbeat-cadence-migration]", "doctor warning [core/doctor/node-hosting-preconditions]"},
			"deliberate: openclawd binds the gateway to loopback", true},
		{"security audit", "testdata/gateway-security-audit.json", parseGatewayAudit,
			[]string{"audit: no warnings or critical findings"}, "", true},
		{"critical fails", "", func([]byte) ([]check, error) {
			return parseGatewayAudit([]byte(`{"ts":1,"findings":[{"checkId":"x.y","severity":"critical","title":"T","remediation":"do R"}]}`))
		}, []string{"audit critical [x.y]: T"}, "do R", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b []byte
			if tt.file != "" {
				var err error
				if b, err = os.ReadFile(tt.file); err != nil {
					t.Fatal(err)
				}
			}
			cs, err := tt.parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != len(tt.want) {
				t.Fatalf("%d checks %+v; want %d", len(cs), cs, len(tt.want))
			}
			fixes := ""
			for i, c := range cs {
				if c.name != "gateway" || !strings.Contains(c.result, tt.want[i]) || c.ok != tt.allOK {
					t.Errorf("check %d %+v; want %q ok=%v", i, c, tt.want[i], tt.allOK)
				}
				fixes += c.fix + "\n"
			}
			if !strings.Contains(fixes, tt.wantFix) {
				t.Errorf("fixes %q lack %q", fixes, tt.wantFix)
			}
		})
	}
	for _, bad := range []string{"", "not json", `{"findings":[]}`} {
		if _, err := parseGatewayLint([]byte(bad)); err == nil {
			t.Errorf("lint parsed %q", bad)
		}
		if _, err := parseGatewayAudit([]byte(bad)); err == nil {
			t.Errorf("audit parsed %q", bad)
		}
	}
}
