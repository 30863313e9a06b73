package cli

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/config/edit"
	"github.com/openclawd/openclawd/daemon"
)

// checkFlags refuses bad flag values before any file is read or written.
func (o *setup) checkFlags() error {
	switch o.costMode {
	case "auto", "yes", "no":
	default:
		return invalid("--cost-safe: %q is not yes, no or auto", o.costMode)
	}
	switch o.tls {
	case "", "off", "acme", "internal":
	default:
		return invalid("--tls: %q is not off, acme or internal", o.tls)
	}
	for _, k := range o.envKeys {
		if strings.Contains(k, "=") { // never echo what follows: it may be the secret
			return invalid("--env takes only a variable name; give NAME=VALUE on stdin or at the prompt, so the value stays out of the command line")
		}
		if err := checkEnvName(k); err != nil {
			return invalid("--env %s: %v", k, err)
		}
	}
	if o.acmeCARoot != "" {
		p, err := filepath.Abs(o.acmeCARoot)
		var b []byte
		if err == nil {
			b, err = os.ReadFile(p)
		}
		if err != nil {
			return invalid("--acme-ca-root: %v", err)
		}
		if blk, _ := pem.Decode(b); blk == nil || blk.Type != "CERTIFICATE" {
			return invalid("--acme-ca-root: %s is not a PEM certificate", p)
		}
		// The service runs as its own user with ProtectHome: it can't read
		// a file under /root or a home. A copy beside the config can be.
		o.acmeCARootPEM = b
		o.acmeCARoot = filepath.Join(filepath.Dir(o.config), "acme-ca-root.pem")
	}
	if o.wait <= 0 {
		return invalid("--wait must be positive, such as 3m")
	}
	if len(o.envKeys) > 0 && o.tty && o.nonInteractive {
		return invalid("--env with --non-interactive reads NAME=VALUE lines from stdin, which is a terminal here: pipe them in")
	}
	return nil
}

// checkEnvName refuses what the env file may not hold (config.ParseEnv's
// rules), without a value in sight.
func checkEnvName(k string) error {
	if _, err := config.ParseEnv("", []byte(k+"=x")); err != nil {
		_, msg, _ := strings.Cut(err.Error(), ": ") // drop the ":1" location
		return errors.New(msg)
	}
	return nil
}

// tlsEdits turns the TLS flags, or the answers to prompts, into edits.
func (o *setup) tlsEdits(cur *config.Config) ([]edit.Edit, error) {
	ask := o.tty && !o.nonInteractive
	mode, domains, email := o.tls, []string(o.domains), o.email
	var err error
	if mode == "" && ask {
		fmt.Fprintln(o.errw, "HTTPS in front of the gateway: off (reach it over SSH or a VPN), acme (a public certificate: a DNS name that points here, ports 80 and 443 open), or internal (a local CA, for a LAN name).")
		for mode == "" || !slices.Contains([]string{"off", "acme", "internal"}, mode) {
			if mode != "" {
				fmt.Fprintf(o.errw, "%q is not off, acme or internal\n", mode)
			}
			if mode, err = o.ask("tls mode", cur.TLS.Mode); err != nil {
				return nil, err
			}
		}
	}
	if mode == "" {
		mode = cur.TLS.Mode
	}
	if mode != "off" && len(domains) == 0 && ask {
		ans, err := o.ask("DNS name(s) for HTTPS, comma-separated", strings.Join(cur.TLS.Domain, ","))
		if err != nil {
			return nil, err
		}
		var l listFlag
		_ = l.Set(ans)
		domains = l
	}
	if mode == "acme" && email == "" && ask {
		if email, err = o.ask("e-mail for the certificate authority (expiry warnings)", cur.TLS.Email); err != nil {
			return nil, err
		}
	}
	// What the config will hold, for the required-flag checks.
	has := func(l []string, fallback []string) []string {
		if l != nil {
			return l
		}
		return fallback
	}
	if mode != "off" && len(has(domains, cur.TLS.Domain)) == 0 {
		return nil, invalid("--domain is required with --tls %s (the config has no tls.domain)", mode)
	}
	if mode == "acme" && email == "" && cur.TLS.Email == "" {
		return nil, invalid("--email is required with --tls acme (the config has no tls.email)")
	}
	var edits []edit.Edit
	add := func(key string, v any, set bool) {
		if set {
			edits = append(edits, edit.Edit{Key: key, Value: v})
		}
	}
	add("tls.mode", mode, mode != cur.TLS.Mode || o.given["tls"])
	add("tls.domain", domains, domains != nil)
	add("tls.email", email, email != "")
	add("tls.acme_ca", o.acmeCA, o.given["acme-ca"])
	add("tls.acme_ca_root", o.acmeCARoot, o.given["acme-ca-root"])
	return edits, nil
}

// flagFor names the flag behind a config key, for error messages.
var flagFor = map[string]string{
	"tls.mode": "--tls", "tls.domain": "--domain", "tls.email": "--email",
	"tls.acme_ca": "--acme-ca", "tls.acme_ca_root": "--acme-ca-root",
}

// check validates the edited config in memory, as `openclawd validate`
// would, and reports each problem with its file:line (and flag).
func (o *setup) check(b []byte) (*config.Config, error) {
	cfg, err := config.Parse(o.config, b)
	if err == nil {
		err = cfg.Validate()
	}
	if err == nil {
		err = daemon.Check(cfg)
	}
	if err == nil {
		return cfg, nil
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		key, _, _ := strings.Cut(l, ": ")
		if cfg != nil && cfg.Line(key) > 0 { // daemon.Check names the key only
			l = fmt.Sprintf("%s:%d: %s", o.config, cfg.Line(key), l)
		}
		for k, f := range flagFor {
			if strings.Contains(l, k+":") && o.given[strings.TrimPrefix(f, "--")] {
				l += " (from " + f + ")"
			}
		}
		lines = append(lines, l)
	}
	return nil, invalid("the configuration would be invalid; nothing was changed:\n%s", indent(strings.Join(lines, "\n")))
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

// ask prompts on stderr and reads one line; empty keeps def.
func (o *setup) ask(question, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(o.errw, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(o.errw, "%s: ", question)
	}
	line, err := o.in.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("reading an answer: %w", err)
	}
	if line = strings.TrimSpace(line); line == "" {
		return def, nil
	}
	return line, nil
}

// secrets reads the values of --env: hidden prompts on a terminal, else
// NAME=VALUE lines on stdin. On a terminal without --env, it offers to
// add some. Values never reach argv, output or errors.
func (o *setup) secrets() (map[string]string, error) {
	vals := map[string]string{}
	switch {
	case len(o.envKeys) > 0 && o.tty:
		for _, k := range o.envKeys {
			fmt.Fprintf(o.errw, "value of %s (not shown): ", k)
			v, err := o.readSecret()
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", k, err)
			}
			if v = strings.TrimSpace(v); v == "" {
				return nil, invalid("--env %s: the value is empty", k)
			}
			vals[k] = v
		}
	case len(o.envKeys) > 0:
		b, err := io.ReadAll(io.LimitReader(o.in, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && !strings.Contains(l, "=") {
				return nil, invalid("stdin line %d is not NAME=VALUE", n+1)
			}
		}
		got, err := config.ParseEnv("stdin", b)
		if err != nil {
			return nil, invalid("%v", err)
		}
		for k := range got {
			if !slices.Contains(o.envKeys, k) {
				return nil, invalid("stdin sets %s, which no --env names", k)
			}
		}
		for _, k := range o.envKeys {
			v, ok := got[k]
			switch {
			case !ok:
				return nil, invalid("--env %s: no %s=… line on stdin", k, k)
			case v == "":
				return nil, invalid("--env %s: the value on stdin is empty", k)
			}
			vals[k] = v
		}
	case o.tty && !o.nonInteractive:
		fmt.Fprintln(o.errw, "API keys and bot tokens for the gateway go in its env file, not in the config. Name one to set it (e.g. ANTHROPIC_API_KEY), or press Enter to go on.")
		for {
			k, err := o.ask("variable name", "")
			if err != nil || k == "" {
				return vals, err
			}
			if err := checkEnvName(k); err != nil {
				fmt.Fprintf(o.errw, "%s: %v\n", k, err)
				continue
			}
			fmt.Fprintf(o.errw, "value of %s (not shown): ", k)
			v, err := o.readSecret()
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", k, err)
			}
			if v = strings.TrimSpace(v); v != "" {
				vals[k] = v
			}
		}
	}
	return vals, nil
}
