package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/hostcheck"
)

// TestDoctorReach runs `openclawd doctor` beside a running openclawd with
// HTTPS in front, in its network namespace, where the name resolves as
// the namespace's /etc/hosts says (ip netns exec binds /etc/netns/<ns>/):
// to this host, the token comes back over HTTP and HTTPS; to another
// address, DNS and reach fail with their fixes.
func TestDoctorReach(t *testing.T) {
	t.Parallel()
	fe := newFrontEnd(t, false)
	in := newInstance(t, opts{netns: fe.srv, extraCfg: fe.tlsConfig() + "backup:\n  every: 0s\n"})
	fe.waitServed(t, in)
	etc := filepath.Join("/etc/netns", fe.srv.NS)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })

	tests := []struct {
		name, addr string
		want       map[string]hostcheck.Level
		fix        map[string]string // substrings of a check's fix
	}{
		{"name points here", fe.srv.IP.String(),
			map[string]hostcheck.Level{"dns": hostcheck.OK, "reach_http": hostcheck.OK, "reach_https": hostcheck.OK}, nil},
		{"name points elsewhere", "198.18.0.99",
			map[string]hostcheck.Level{"dns": hostcheck.Error, "reach_http": hostcheck.Error, "reach_https": hostcheck.Error},
			map[string]string{"reach_http": "80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, filepath.Join(etc, "hosts"), "127.0.0.1 localhost\n"+tt.addr+" "+fe.name+"\n", 0o644, 0)
			argv := fe.srv.Wrap(bins.openclawd, "doctor", "--json", "--config", in.cfg)
			start := time.Now()
			out, err := exec.Command(argv[0], argv[1:]...).Output()
			took := time.Since(start)
			var rep struct {
				OK     bool               `json:"ok"`
				Checks []hostcheck.Result `json:"checks"`
			}
			if jerr := json.Unmarshal(out, &rep); jerr != nil {
				t.Fatalf("doctor --json (%v) printed %q: %v", err, out, jerr)
			}
			got := map[string]hostcheck.Result{}
			for _, c := range rep.Checks {
				got[c.Name] = c
			}
			for name, want := range tt.want {
				if c := got[name]; c.Level != want {
					t.Errorf("%s = %s (%s), want %s", name, c.Level, c.Detail, want)
				}
				if c := got[name]; c.Level == hostcheck.Error && c.Fix == "" {
					t.Errorf("%s failed without a fix: %s", name, c.Detail)
				}
			}
			for name, sub := range tt.fix {
				if c := got[name]; !strings.Contains(c.Fix, sub) && !strings.Contains(c.Detail, sub) {
					t.Errorf("%s: %q / %q lacks %q", name, c.Detail, c.Fix, sub)
				}
			}
			if rep.OK != (err == nil) {
				t.Errorf("json ok = %v but exit error %v", rep.OK, err)
			}
			if d := got["dns"]; tt.addr != fe.srv.IP.String() && !strings.Contains(d.Detail, tt.addr) {
				t.Errorf("the dns error does not name %s: %s", tt.addr, d.Detail)
			}
			t.Logf("FIGURE doctor_run=%s (%s)", took.Round(10*time.Millisecond), tt.name)
		})
	}
}
