package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openclawd/openclawd/config"
)

// TestSetupOwnership: as root, the env file stays root's, readable by the
// service user's group (nobody here), the token is the service user's,
// and the config keeps its own mode and owner.
func TestSetupOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	e := newSetupEnv(t, "")
	if err := os.Chown(e.cfg, 0, 65534); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	o := newTestSetup(t, []string{"--config", e.cfg, "--non-interactive", "--no-start", "--env", "OPENAI_API_KEY", "--tls", "internal", "--domain", "claw.lan", "--cost-safe=no"},
		strings.NewReader("OPENAI_API_KEY=sk-1\n"), &out, &errb)
	o.user = "nobody"
	if rc := o.run(context.Background()); rc != ExitOK {
		t.Fatalf("rc %d\n%s\n%s", rc, out.String(), errb.String())
	}
	checkFile(t, e.cfg, 0o640, 0, 65534)
	checkFile(t, e.envFile, 0o640, 0, 65534)
	checkFile(t, filepath.Join(e.dir, "state", "secrets", "gateway-token"), 0o600, 65534, 65534)
	checkFile(t, filepath.Join(e.dir, "state", "secrets"), 0o700, 65534, 65534)
}

func TestMergeEnv(t *testing.T) {
	old := "# keys\nexport OPENAI_API_KEY=old\nKEEP='x y'\n\n# end"
	vals := map[string]string{"OPENAI_API_KEY": "new value", "B": `q"uo\te`, "A": "'lead", "C": "héllo #1"}
	oldVals, err := config.ParseEnv("t", []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	out, keys := mergeEnv([]byte(old), oldVals, vals)
	want := "# keys\nOPENAI_API_KEY=\"new value\"\nKEEP='x y'\n\n# end\nA=\"'lead\"\nB=\"q\\\"uo\\\\te\"\nC=\"héllo #1\"\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if strings.Join(keys, ",") != "OPENAI_API_KEY,A,B,C" {
		t.Errorf("keys %v", keys)
	}
	got, err := config.ParseEnv("t", out)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vals {
		if got[k] != v {
			t.Errorf("%s read back as %q; want %q", k, got[k], v)
		}
	}
	if got["KEEP"] != "x y" {
		t.Errorf("KEEP = %q", got["KEEP"])
	}
	if _, keys := mergeEnv(out, got, vals); len(keys) != 0 {
		t.Errorf("second merge changed %v", keys)
	}
}
