package packaging

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/config"
)

// need returns the path of tool, or skips: on a developer's machine a
// missing tool is a skip, under CI=true a failure (.ci/run installs them).
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true (apt-get install it): %v", tool, err)
		}
		t.Skipf("%s not installed", tool)
	}
	return p
}

// unitValues parses a unit file into key -> values (keys may repeat).
func unitValues(unit string) map[string][]string {
	kv := map[string][]string{}
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = append(kv[k], v)
		}
	}
	return kv
}

func TestSystemdUnit(t *testing.T) {
	tests := []struct {
		name, bin, config string
		wantExec          string
	}{
		{"defaults", DefaultBin, DefaultConfig,
			"/usr/bin/openclawd run --config /etc/openclawd/openclawd.yaml"},
		{"other paths", "/opt/openclawd/bin/openclawd", "/srv/openclawd/config.yaml",
			"/opt/openclawd/bin/openclawd run --config /srv/openclawd/config.yaml"},
		{"space, quote and percent", "/opt/open clawd/openclawd", `/etc/o"c/50%.yaml`,
			`"/opt/open clawd/openclawd" run --config "/etc/o\"c/50%%.yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unit := SystemdUnit(tt.bin, tt.config)
			if got := unitValues(unit)["ExecStart"]; len(got) != 1 || got[0] != tt.wantExec {
				t.Errorf("ExecStart = %q, want %q", got, tt.wantExec)
			}
			if tt.bin != DefaultBin && strings.Contains(unit, DefaultBin) {
				t.Errorf("%s is left behind", DefaultBin)
			}
			if tt.config != DefaultConfig && strings.Contains(unit, DefaultConfig) {
				t.Errorf("%s is left behind", DefaultConfig)
			}
			// Nothing but ExecStart changes.
			if a, b := strings.Count(unit, "\n"), strings.Count(systemdUnit, "\n"); a != b {
				t.Errorf("%d lines, want %d", a, b)
			}
		})
	}
}

// TestSystemdUnitAgrees checks the unit's settings against the daemon's own
// defaults, so a change to either shows up here.
func TestSystemdUnitAgrees(t *testing.T) {
	kv := unitValues(SystemdUnit(DefaultBin, DefaultConfig))
	def := config.Default()
	stopSec := func(s string) time.Duration {
		d, err := time.ParseDuration(strings.TrimSuffix(s, "s") + "s")
		if err != nil {
			t.Fatalf("TimeoutStopSec=%s: %v", s, err)
		}
		return d
	}
	tests := []struct {
		key, want string
	}{
		{"Type", "notify"}, // openclawd sends READY=1 and WATCHDOG=1
		{"NotifyAccess", "main"},
		{"User", def.User},
		{"Group", def.Control.Group},
		{"RestartPreventExitStatus", "78"}, // cli.ExitConfig
		{"Restart", "on-failure"},
		{"KillMode", "mixed"},
		{"StateDirectory", filepath.Base(def.StateDir)},
		{"ReadWritePaths", def.StateDir},
		{"RuntimeDirectory", filepath.Base(filepath.Dir("/run/openclawd/openclawd.sock"))},
		{"RuntimeDirectoryMode", "0750"}, // group openclawd reaches the socket
		{"StateDirectoryMode", "0700"},
		{"UMask", "0077"},
		{"ExecReload", "/bin/kill -HUP $MAINPID"},
		{"AmbientCapabilities", "CAP_NET_BIND_SERVICE"},
		{"CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"},
		{"EnvironmentFile", "-/etc/default/openclawd"},
		{"WantedBy", "multi-user.target"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := kv[tt.key]; len(got) != 1 || got[0] != tt.want {
				t.Errorf("%s=%q, want %q", tt.key, got, tt.want)
			}
		})
	}
	t.Run("TimeoutStopSec covers gateway.stop_timeout", func(t *testing.T) {
		if got := stopSec(kv["TimeoutStopSec"][0]); got <= def.Gateway.StopTimeout {
			t.Errorf("TimeoutStopSec=%s does not exceed gateway.stop_timeout %s: systemd would SIGKILL a draining gateway", got, def.Gateway.StopTimeout)
		}
	})
	t.Run("no MemoryDenyWriteExecute", func(t *testing.T) {
		if _, ok := kv["MemoryDenyWriteExecute"]; ok {
			t.Error("V8's JIT needs W+X memory")
		}
	})
	t.Run("Environment", func(t *testing.T) {
		env := strings.Join(kv["Environment"], " ")
		for _, v := range []string{"XDG_DATA_HOME=" + def.StateDir + "/", "HOME=" + def.StateDir} {
			if !strings.Contains(env, v) {
				t.Errorf("Environment=%q lacks %s", env, v)
			}
		}
	})
	t.Run("start limits in [Unit]", func(t *testing.T) {
		unitSection, _, _ := strings.Cut(systemdUnit, "[Service]")
		for _, k := range []string{"StartLimitIntervalSec=", "StartLimitBurst="} {
			if !strings.Contains(unitSection, "\n"+k) {
				t.Errorf("%s is not in [Unit], where systemd reads it", k)
			}
		}
	})
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on rendered units.
// It exits 0 on unknown keys and bad values, with a warning: any output
// fails. ExecStart must exist, so the test binary stands in for openclawd.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa := need(t, "systemd-analyze")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spaced := filepath.Join(t.TempDir(), "open clawd", "openclawd")
	if err := os.MkdirAll(filepath.Dir(spaced), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, spaced); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, unit string
		wantClean  bool
	}{
		{"rendered", SystemdUnit(self, DefaultConfig), true},
		{"path with a space", SystemdUnit(spaced, "/srv/oc 1/openclawd.yaml"), true},
		// The checker itself: a typo must make output.
		{"typo is caught", strings.Replace(SystemdUnit(self, DefaultConfig), "Restart=on-failure", "Restart=sometimes", 1), false},
		{"missing binary is caught", SystemdUnit("/nonexistent/openclawd", DefaultConfig), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), SystemdUnitName)
			if err := os.WriteFile(path, []byte(tt.unit), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(sa, "verify", path).CombinedOutput()
			clean := err == nil && len(strings.TrimSpace(string(out))) == 0
			if clean != tt.wantClean {
				t.Errorf("systemd-analyze verify: err=%v, output:\n%s", err, out)
			}
		})
	}
}

// parsePlist parses a plist with Python's plistlib (the closest to
// launchd's parser available here) and returns it as JSON-decoded values.
func parsePlist(t *testing.T, python, path string) (map[string]any, error) {
	t.Helper()
	const script = `import json, plistlib, sys
d = plistlib.load(open(sys.argv[1], "rb"))
json.dump(d, sys.stdout)`
	out, err := exec.Command(python, "-c", script, path).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return nil, err
	}
	var d map[string]any
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, err
	}
	return d, nil
}

func TestLaunchdPlist(t *testing.T) {
	python := need(t, "python3")
	tests := []struct {
		name                          string
		bin, config, logDir, stateDir string
	}{
		{"homebrew intel", DarwinBin, DarwinConfig, DarwinLogDir, DarwinStateDir},
		{"homebrew apple silicon", "/opt/homebrew/bin/openclawd", "/opt/homebrew/etc/openclawd/openclawd.yaml",
			"/opt/homebrew/var/log/openclawd", "/opt/homebrew/var/openclawd"},
		{"xml metacharacters", "/Applications/A & B/openclawd", "/etc/<oc>/openclawd.yaml",
			"/var/log/o'c", `/var/db/"oc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := LaunchdPlist(tt.bin, tt.config, tt.logDir, tt.stateDir)
			if !strings.HasPrefix(tt.bin, DefaultHomebrewPrefix) && strings.Contains(text, DefaultHomebrewPrefix) {
				t.Errorf("%s is left behind", DefaultHomebrewPrefix)
			}
			path := filepath.Join(t.TempDir(), LaunchdLabel+".plist")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := parsePlist(t, python, path)
			if err != nil {
				t.Fatalf("plistlib: %v", err)
			}
			want := map[string]any{
				"Label":             LaunchdLabel,
				"ProgramArguments":  []any{tt.bin, "run", "--config", tt.config},
				"RunAtLoad":         true,
				"KeepAlive":         true,
				"UserName":          "_openclawd",
				"GroupName":         "_openclawd",
				"ProcessType":       "Standard",
				"WorkingDirectory":  tt.stateDir,
				"StandardOutPath":   tt.logDir + "/openclawd.out.log",
				"StandardErrorPath": tt.logDir + "/openclawd.err.log",
				"EnvironmentVariables": map[string]any{
					"HOME": tt.stateDir, "XDG_DATA_HOME": tt.stateDir + "/caddy-xdg"},
				"SoftResourceLimits": map[string]any{"NumberOfFiles": float64(10240)},
			}
			for k, w := range want {
				if g, _ := json.Marshal(d[k]); string(g) != string(must(json.Marshal(w))) {
					t.Errorf("%s = %s, want %s", k, g, must(json.Marshal(w)))
				}
			}
			exit, _ := d["ExitTimeOut"].(float64)
			if stop := config.Default().Gateway.StopTimeout; time.Duration(exit)*time.Second <= stop {
				t.Errorf("ExitTimeOut %vs does not exceed gateway.stop_timeout %s", exit, stop)
			}
		})
	}
}

// TestPlistChecker shows the plist check can fail: plistlib rejects a
// malformed file that lenient tools (plistutil 2.2.0) accept.
func TestPlistChecker(t *testing.T) {
	python := need(t, "python3")
	tests := []struct {
		name, file string
		wantErr    bool
	}{
		{"key without a value", "testdata/key-without-value.plist", true},
		{"shipped plist", "launchd/" + LaunchdLabel + ".plist", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePlist(t, python, tt.file)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestHomebrewFormula(t *testing.T) {
	ruby := need(t, "ruby")
	out, err := exec.Command(ruby, "-c", "homebrew/openclawd.rb").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "Syntax OK" {
		t.Fatalf("ruby -c: %v\n%s", err, out)
	}
	rb, err := os.ReadFile("homebrew/openclawd.rb")
	if err != nil {
		t.Fatal(err)
	}
	// What the service and the skeleton depend on; ruby -c checks none of it.
	for _, s := range []string{
		`depends_on "go" => :build`,
		`"./cmd/openclawd"`,
		"daemon.Version=#{version}",
		`"packaging/homebrew/openclawd.yaml"`,
		`gsub("` + DefaultHomebrewPrefix + `/", "#{HOMEBREW_PREFIX}/")`,
		`unless config.exist?`,
		`run [opt_bin/"openclawd", "run", "--config", etc/"openclawd/openclawd.yaml"]`,
		"require_root true",
		"keep_alive true",
		`--sudo-service-user _openclawd`,
		`openclawd validate --config`,
		`openclawd version`,
	} {
		if !strings.Contains(string(rb), s) {
			t.Errorf("the formula lacks %s", s)
		}
	}
}

func TestMaintainerScripts(t *testing.T) {
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("deb", name)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "#!/bin/sh\n") || !strings.Contains(string(b), "\nset -e\n") {
				t.Error("not a #!/bin/sh script with set -e")
			}
			if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
				t.Errorf("sh -n: %v\n%s", err, out)
			}
			sc := need(t, "shellcheck")
			if out, err := exec.Command(sc, "-s", "sh", path).CombinedOutput(); err != nil {
				t.Errorf("shellcheck: %v\n%s", err, out)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
