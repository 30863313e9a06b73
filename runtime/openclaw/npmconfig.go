package openclaw

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"time"
)

// npmSettings is the part of the host's npm configuration the pinned npm
// must honour: which registry, and which CA file (for TLS-intercepting
// proxies). The pinned npm has its own empty global config, so it would
// not see the host's /etc/npmrc by itself.
type npmSettings struct {
	Registry     string
	CAFile       string
	GlobalConfig string // the host's global npmrc, passed on as is
}

// hostNPMSettings reads npm's own configuration: npm_config_* in the
// environment first, then the host's npm, if there is one. Empty values
// mean npm's defaults. The registry's name is never written in code.
func hostNPMSettings(ctx context.Context) npmSettings {
	s := npmSettings{Registry: os.Getenv("npm_config_registry"), CAFile: os.Getenv("npm_config_cafile"),
		GlobalConfig: hostGlobalConfig()}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return s
	}
	get := func(key string) string {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, npm, "config", "get", key).Output()
		if err != nil {
			return ""
		}
		v := strings.TrimSpace(string(out))
		if v == "null" || v == "undefined" {
			return ""
		}
		return v
	}
	if s.Registry == "" {
		s.Registry = get("registry")
	}
	if s.CAFile == "" {
		s.CAFile = get("cafile")
	}
	return s
}

// hostGlobalConfig finds the host's global npmrc, where Debian's and
// Homebrew's npm keep machine-wide settings, whether or not npm itself is
// installed.
func hostGlobalConfig() string {
	for _, p := range []string{"/etc/npmrc", "/usr/etc/npmrc", "/usr/local/etc/npmrc", "/opt/homebrew/etc/npmrc"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// npmrc renders the settings as the install's private userconfig.
func (s npmSettings) npmrc() string {
	var b strings.Builder
	b.WriteString("fund=false\naudit=false\nupdate-notifier=false\n")
	if s.Registry != "" {
		b.WriteString("registry=" + s.Registry + "\n")
	}
	if s.CAFile != "" {
		b.WriteString("cafile=" + s.CAFile + "\n")
	}
	return b.String()
}
