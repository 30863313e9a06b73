package openclaw

import (
	"errors"
	"io/fs"

	"github.com/openclawd/openclawd/internal/json5"
)

// Owned are the gateway config values openclawd is responsible for
// (openclaw-gateway.md §5, §13). Everything else in openclaw.json belongs
// to the user and the gateway and is kept as it is.
type Owned struct {
	Port    int
	LogFile string // logging.file, under openclawd's log directory
	// Origins are the https:// origins Caddy serves the gateway on: they
	// become gateway.controlUi.allowedOrigins, and the first one
	// gateway.publicOrigin. Empty (no TLS) leaves both as they are.
	Origins []string
	// Terminal sets gateway.terminal.enabled, the gateway's host terminal
	// (a PTY for operator.admin, §14); nil leaves it as it is. See
	// TerminalSetting.
	Terminal *bool
}

// TerminalSetting turns gateway.host_terminal (auto, on, off; "" is auto)
// and tls.mode into Owned.Terminal. Auto switches the terminal off while
// Caddy exposes the gateway beyond loopback (tls.mode acme or internal),
// and otherwise leaves the file alone: a loopback-only gateway keeps the
// gateway's own default or the user's choice.
func TerminalSetting(mode, tlsMode string) *bool {
	on, off := true, false
	switch mode {
	case "on":
		return &on
	case "off":
		return &off
	}
	if tlsMode != "" && tlsMode != "off" {
		return &off
	}
	return nil
}

// ConfigChange says what WriteConfig did.
type ConfigChange struct {
	Written      bool // the file changed on disk
	RemovedToken bool // a gateway.auth.token was removed: the token comes from the environment only
}

// WriteConfig sets openclawd's keys in the JSON5 file at path, creating it
// if needed, and writes it back atomically (mode 0600) only if something
// changed. It never adds a key the gateway's strict schema doesn't know. A
// file that doesn't parse is left alone, and the error names the line.
func WriteConfig(path string, o Owned) (ConfigChange, error) {
	var ch ConfigChange
	root, err := readGatewayConfig(path)
	exists := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
		root = json5.NewObject()
	case err != nil:
		return ch, err
	}
	before := root.Clone()
	set := func(v *json5.Value, path ...string) { root.Set(path, v) }
	set(json5.NewString("local"), "gateway", "mode")
	set(json5.NewString("loopback"), "gateway", "bind")
	set(json5.NewInt(int64(o.Port)), "gateway", "port")
	set(json5.NewString("token"), "gateway", "auth", "mode")
	// One source for the token: a second one in the file drifts (§16).
	ch.RemovedToken = root.Delete("gateway", "auth", "token")
	set(json5.NewStrings("127.0.0.1", "::1"), "gateway", "trustedProxies")
	if o.LogFile != "" {
		set(json5.NewString(o.LogFile), "logging", "file")
	}
	set(json5.NewBool(false), "update", "checkOnStart")
	if len(o.Origins) > 0 {
		set(json5.NewStrings(o.Origins...), "gateway", "controlUi", "allowedOrigins")
		set(json5.NewString(o.Origins[0]), "gateway", "publicOrigin")
	}
	if o.Terminal != nil {
		set(json5.NewBool(*o.Terminal), "gateway", "terminal", "enabled")
	}
	if json5.Equal(before, root) && exists {
		return ch, nil
	}
	if err := writeGatewayConfig(path, root); err != nil {
		return ch, err
	}
	ch.Written = true
	return ch, nil
}
