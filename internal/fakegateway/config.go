package fakegateway

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	defaultPort    = 18789
	defaultTick    = 30 * time.Second
	defaultStartup = 300 * time.Millisecond
)

// modes are the start-time behaviours FAKE_GATEWAY_MODE_FILE can pick.
var modes = map[string]bool{
	"normal":           true,
	"exit78":           true, // config error: message on stderr, exit 78
	"crash":            true, // exit 1 shortly after becoming started
	"bind-any":         true, // listen on 0.0.0.0, as on container-like hosts (§8)
	"ignore-term":      true, // SIGTERM is logged and ignored
	"restart-at-start": true, // exit 0 right after start, as a supervised restart
	"escape-any":       true, // spawn a setsid'd, orphaned grandchild listening on 0.0.0.0
	"escape-idle":      true, // spawn a setsid'd, orphaned grandchild that only sleeps
}

// config is what one start of the fake runs with.
type config struct {
	port       int
	token      string
	mode       string
	tick       time.Duration
	startup    time.Duration
	bindRetry  time.Duration // keep retrying an address in use this long, as the real gateway does (§6)
	logConnect bool          // print each connect frame's token (a squatter test's witness)
	supervised bool          // restart requests exit 0 instead of restarting in place
	stateDir   string        // OPENCLAW_STATE_DIR: openclaw.json, read per request
}

// loadConfig reads the command line and environment the way the real
// gateway does: --port beats OPENCLAW_GATEWAY_PORT beats 18789 (§3). Other
// arguments ("gateway run --bind loopback --verbose") are accepted and
// ignored.
func loadConfig(args []string, getenv func(string) string) (config, error) {
	cfg := config{
		port:       defaultPort,
		token:      getenv("OPENCLAW_GATEWAY_TOKEN"),
		supervised: supervised(getenv),
		stateDir:   getenv("OPENCLAW_STATE_DIR"),
	}
	port := getenv("OPENCLAW_GATEWAY_PORT")
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "--port" || a == "--token") && i+1 < len(args):
			i++
			if a == "--port" {
				port = args[i]
			} else {
				cfg.token = args[i]
			}
		case strings.HasPrefix(a, "--port="):
			port = strings.TrimPrefix(a, "--port=")
		case strings.HasPrefix(a, "--token="):
			cfg.token = strings.TrimPrefix(a, "--token=")
		}
	}
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return config{}, fmt.Errorf("Invalid config: gateway.port: expected a port number, got %q", port)
		}
		cfg.port = p
	}
	if cfg.token == "" {
		return config{}, errors.New("Gateway auth is set to token, but no token is configured: " +
			"set OPENCLAW_GATEWAY_TOKEN (or gateway.auth.token) and start again")
	}
	var err error
	if cfg.tick, err = envMillis(getenv, "FAKE_GATEWAY_TICK_MS", defaultTick); err != nil {
		return config{}, err
	}
	if cfg.tick <= 0 {
		return config{}, errors.New("fakegateway: FAKE_GATEWAY_TICK_MS must be positive")
	}
	if cfg.startup, err = envMillis(getenv, "FAKE_GATEWAY_STARTUP_MS", defaultStartup); err != nil {
		return config{}, err
	}
	if cfg.bindRetry, err = envMillis(getenv, "FAKE_GATEWAY_BIND_RETRY_MS", 0); err != nil {
		return config{}, err
	}
	cfg.logConnect = truthy(getenv("FAKE_GATEWAY_LOG_CONNECT"))
	return cfg, nil
}

func envMillis(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	ms, err := strconv.Atoi(v)
	if err != nil || ms < 0 {
		return 0, fmt.Errorf("fakegateway: %s=%q: want a non-negative number of milliseconds", name, v)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// supervised mirrors the real restart decision (§7): OPENCLAW_NO_RESPAWN
// wins; otherwise any visible supervisor marker means "exit 0 and let the
// supervisor start me again".
func supervised(getenv func(string) string) bool {
	if truthy(getenv("OPENCLAW_NO_RESPAWN")) {
		return false
	}
	if getenv("OPENCLAW_SUPERVISOR_MODE") == "external" {
		return true
	}
	for _, k := range []string{"OPENCLAW_SYSTEMD_UNIT", "INVOCATION_ID", "SYSTEMD_EXEC_PID", "JOURNAL_STREAM", "OPENCLAW_LAUNCHD_LABEL"} {
		if getenv(k) != "" {
			return true
		}
	}
	for _, k := range []string{"LAUNCH_JOB_LABEL", "LAUNCH_JOB_NAME", "XPC_SERVICE_NAME"} {
		if getenv(k) == "ai.openclaw.gateway" {
			return true
		}
	}
	return false
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// readMode returns the first word of the mode file; a missing file or an
// empty one means normal, so tests can flip modes between starts.
func readMode(path string) (string, error) {
	if path == "" {
		return "normal", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "normal", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading mode file: %w", err)
	}
	words := strings.Fields(string(b))
	if len(words) == 0 {
		return "normal", nil
	}
	if !modes[words[0]] {
		return "", fmt.Errorf("mode file %s: unknown mode %q", path, words[0])
	}
	return words[0], nil
}
