package packaging

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openclawd/openclawd/config"
)

var update = flag.Bool("update", false, "rewrite openclawd.yaml and homebrew/openclawd.yaml from ../openclawd.example.yaml")

// productionHeader replaces the example's opening comment. It names Linux
// paths only, so the macOS replacements below apply to it too.
const productionHeader = `# openclawd configuration: every key with its default. The package installed
# it and keeps your edits on upgrade. After an edit, check it with
# ` + "`openclawd validate --config /etc/openclawd/openclawd.yaml`" + ` and apply
# it with ` + "`systemctl restart openclawd`" + `.
# HTTPS is off until ` + "`openclawd setup`" + ` configures tls: below.
# Secrets (API keys, bot tokens) go in /etc/openclawd/gateway.env, not here.
# Generated from openclawd.example.yaml by packaging/configs_test.go.
`

// replaceEach replaces each old with its new, simultaneously, and fails if
// one of them is missing: the example changed and the recipe must too.
func replaceEach(s string, oldnew ...string) (string, error) {
	for i := 0; i < len(oldnew); i += 2 {
		if !strings.Contains(s, oldnew[i]) {
			return "", fmt.Errorf("%q not found", oldnew[i])
		}
	}
	return strings.NewReplacer(oldnew...).Replace(s), nil
}

// linuxFromExample makes the .deb's config: the example's header replaced,
// and the env file the package ships (0600 openclawd, all comments) set.
func linuxFromExample(example string) (string, error) {
	i := strings.Index(example, "\n\n")
	if i < 0 || !strings.HasPrefix(example, "#") {
		return "", fmt.Errorf("the example no longer starts with a comment paragraph")
	}
	return replaceEach(productionHeader+example[i+1:],
		"\n  env_file: \"\"\n", "\n  env_file: /etc/openclawd/gateway.env\n")
}

// darwinFromLinux makes the Homebrew config: everything under the prefix
// (/var/run is root's and emptied at boot, so the socket lives in var/run),
// and the _openclawd user macOS naming wants.
func darwinFromLinux(linux string) (string, error) {
	return replaceEach(linux,
		"/var/lib/openclawd", DarwinStateDir,
		"/run/openclawd/", DefaultHomebrewPrefix+"/var/run/openclawd/",
		"/etc/openclawd/", DefaultHomebrewPrefix+"/etc/openclawd/",
		"`systemctl restart openclawd`", "`sudo brew services restart openclawd`",
		"`openclawd setup`", "`sudo openclawd setup`",
		"user: openclawd\n", "user: _openclawd\n",
		"group: openclawd\n", "group: _openclawd\n",
	)
}

// TestConfigs keeps the shipped configs in step with the example: same
// text but for the named changes, and the same values but for the paths.
func TestConfigs(t *testing.T) {
	example, err := os.ReadFile("../openclawd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	linux, err := linuxFromExample(string(example))
	if err != nil {
		t.Fatalf("deriving openclawd.yaml: %v", err)
	}
	darwin, err := darwinFromLinux(linux)
	if err != nil {
		t.Fatalf("deriving homebrew/openclawd.yaml: %v", err)
	}
	if *update {
		for path, s := range map[string]string{"openclawd.yaml": linux, "homebrew/openclawd.yaml": darwin} {
			if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Skip("rewrote the configs; run again without -update")
	}

	want := load(t, "../openclawd.example.yaml", string(example))
	want.Gateway.EnvFile = "/etc/openclawd/gateway.env"
	wantDarwin := *want
	wantDarwin.StateDir = DarwinStateDir
	wantDarwin.Gateway.EnvFile = DefaultHomebrewPrefix + "/etc/openclawd/gateway.env"
	wantDarwin.Control.Socket = DefaultHomebrewPrefix + "/var/run/openclawd/openclawd.sock"
	wantDarwin.Control.Group = "_openclawd"
	wantDarwin.User = "_openclawd"

	tests := []struct {
		name, file, embedded, derived string
		want                          *config.Config
	}{
		{"linux", "openclawd.yaml", LinuxConfig(), linux, want},
		{"darwin", "homebrew/openclawd.yaml", DarwinConfigFile(DefaultHomebrewPrefix), darwin, &wantDarwin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.embedded != tt.derived {
				t.Fatalf("%s is stale: run `go test ./packaging -run Configs -update`", tt.file)
			}
			got := load(t, tt.file, tt.embedded)
			if g, w := jsonOf(t, got), jsonOf(t, tt.want); g != w {
				t.Errorf("%s values:\n got %s\nwant %s", tt.file, g, w)
			}
			if strings.Contains(tt.embedded, "TODO") {
				t.Errorf("%s has a TODO", tt.file)
			}
		})
	}
	t.Run("linux-has-no-darwin-paths", func(t *testing.T) {
		if strings.Contains(linux, "/usr/local") || strings.Contains(linux, "_openclawd") {
			t.Error("the Linux config names macOS paths or users")
		}
	})
	t.Run("darwin-has-no-linux-paths", func(t *testing.T) {
		for _, p := range []string{"/var/lib/", " /run/", " /etc/", "systemctl"} {
			if strings.Contains(darwin, p) {
				t.Errorf("the macOS config still says %q", p)
			}
		}
	})
	t.Run("darwin-apple-silicon-prefix", func(t *testing.T) {
		got := DarwinConfigFile("/opt/homebrew/")
		if strings.Contains(got, "/usr/local") {
			t.Error("the /usr/local prefix is left behind")
		}
		c := load(t, "apple-silicon.yaml", got)
		if c.StateDir != "/opt/homebrew/var/openclawd" {
			t.Errorf("state_dir = %q", c.StateDir)
		}
	})
}

// load validates s as the config file name (written to a temp dir, since
// Load reads a file), exactly as `openclawd validate` does.
func load(t *testing.T, name, s string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// jsonOf renders the exported fields only: Path and line numbers differ.
func jsonOf(t *testing.T, c *config.Config) string {
	t.Helper()
	cc := *c
	cc.Path = ""
	b, err := json.Marshal(cc)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}
