package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/config/edit"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// listFlag is a repeatable flag that also takes comma lists.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// setup is one run of `openclawd setup`. The fields after the flags are
// what tests replace: the terminal, the service user and the starter.
type setup struct {
	config, tls, email, acmeCA, acmeCARoot string
	acmeCARootPEM                          []byte // --acme-ca-root's content, copied beside the config
	domains, envKeys                       listFlag
	nonInteractive, noStart                bool
	wait                                   time.Duration
	given                                  map[string]bool // flags on the command line

	in         *bufio.Reader
	tty        bool                   // stdin is a terminal: prompts, hidden input
	readSecret func() (string, error) // one line without echo
	user       string                 // owns the env file and the token
	start      func(ctx context.Context, cfg *config.Config) error
	poll       time.Duration
	out, errw  io.Writer
}

// errInvalid marks an input or config problem: exit 78.
type errInvalid struct{ msg string }

func (e errInvalid) Error() string { return e.msg }

func invalid(format string, a ...any) error { return errInvalid{fmt.Sprintf(format, a...)} }

func setupCmd(args []string, stdout, stderr io.Writer) int {
	o, rc := newSetup(args, stdout, stderr)
	if o == nil {
		return rc
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return o.run(ctx)
}

// newSetup parses the flags; a nil setup means exit with rc.
func newSetup(args []string, stdout, stderr io.Writer) (*setup, int) {
	o := &setup{
		in: bufio.NewReader(os.Stdin), tty: term.IsTerminal(int(os.Stdin.Fd())),
		readSecret: func() (string, error) {
			b, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(stderr)
			return string(b), err
		},
		user: serviceUser, start: startService, poll: 500 * time.Millisecond, out: stdout, errw: stderr,
	}
	fs := newFlags("setup", stderr)
	fs.StringVar(&o.config, "config", config.DefaultPath, "the config file to edit")
	fs.StringVar(&o.tls, "tls", "", "HTTPS: off, acme (a public certificate) or internal (a local CA)")
	fs.Var(&o.domains, "domain", "a DNS `name` to serve over HTTPS (repeat it, or a comma list)")
	fs.StringVar(&o.email, "email", "", "the ACME account `address` (--tls acme)")
	fs.StringVar(&o.acmeCA, "acme-ca", "", "another ACME directory `URL` (staging, tests)")
	fs.StringVar(&o.acmeCARoot, "acme-ca-root", "", "a PEM `file` to trust the ACME CA by")
	fs.Var(&o.envKeys, "env", "a gateway environment variable `NAME` for the env file (repeat it); the value comes from stdin as NAME=VALUE, or from a hidden prompt, never from the command line")
	fs.BoolVar(&o.nonInteractive, "non-interactive", false, "never prompt; fail naming the missing flag")
	fs.BoolVar(&o.noStart, "no-start", false, "change the files only; do not (re)start openclawd")
	fs.DurationVar(&o.wait, "wait", 3*time.Minute, "how long to wait for the gateway to be healthy")
	if rc := parse(fs, args); rc >= 0 {
		return nil, rc
	}
	o.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.given[f.Name] = true })
	return o, ExitOK
}

func (o *setup) run(ctx context.Context) int {
	rc, err := o.apply(ctx)
	var inv errInvalid
	switch {
	case errors.As(err, &inv):
		fmt.Fprintf(o.errw, "openclawd: %v\n", err)
		return ExitConfig
	case errors.Is(err, os.ErrPermission) && os.Geteuid() != 0:
		fmt.Fprintf(o.errw, "openclawd: %v\n(setup changes root's files: run it with sudo)\n", err)
		return ExitFailure
	case err != nil:
		fmt.Fprintf(o.errw, "openclawd: %v\n", err)
		return ExitFailure
	}
	return rc
}

func (o *setup) apply(ctx context.Context) (int, error) {
	if abs, err := filepath.Abs(o.config); err == nil {
		o.config = abs
	}
	if err := o.checkFlags(); err != nil {
		return 0, err
	}
	raw, err := os.ReadFile(o.config)
	if errors.Is(err, os.ErrNotExist) {
		if err := writeDefaultConfig(o.config); err != nil {
			return 0, fmt.Errorf("writing %s: %w", o.config, err)
		}
		fmt.Fprintf(o.out, "wrote the default config to %s\n", o.config)
		raw, err = os.ReadFile(o.config)
	}
	if err != nil {
		return 0, fmt.Errorf("reading config: %w", err)
	}
	cur, err := config.Parse(o.config, raw)
	if err != nil {
		return 0, invalid("%s must parse before setup can edit it:\n%s", o.config, indent(err.Error()))
	}
	edits, err := o.tlsEdits(cur)
	if err != nil {
		return 0, err
	}
	secrets, err := o.secrets()
	if err != nil {
		return 0, err
	}
	if len(secrets) > 0 && cur.Gateway.EnvFile == "" {
		edits = append(edits, edit.Edit{Key: "gateway.env_file", Value: filepath.Join(filepath.Dir(o.config), "gateway.env")})
	}

	// (a) The config: every edit checked in memory before anything is written.
	next, changedKeys := raw, []string(nil)
	for _, e := range edits {
		b, ch, err := edit.Apply(next, e)
		if err != nil {
			return 0, invalid("%s: %v", o.config, err)
		}
		if ch {
			next, changedKeys = b, append(changedKeys, e.Key)
		}
	}
	cfg, err := o.check(next)
	if err != nil {
		return 0, err
	}
	acct := lookupAccount(o.user)
	if o.acmeCARootPEM != nil {
		if err := o.copyCARoot(); err != nil {
			return 0, err
		}
	}
	if len(changedKeys) > 0 {
		if err := rewrite(o.config, next); err != nil {
			return 0, fmt.Errorf("writing %s: %w", o.config, err)
		}
		fmt.Fprintf(o.out, "%s: set %s\n", o.config, strings.Join(changedKeys, ", "))
	} else {
		fmt.Fprintf(o.out, "%s: unchanged\n", o.config)
	}

	// (b) API keys into the env file, 0600 and the service user's.
	envChanged := false
	if _, err := os.Stat(cfg.Gateway.EnvFile); len(secrets) > 0 || (cfg.Gateway.EnvFile != "" && errors.Is(err, os.ErrNotExist)) {
		if envChanged, err = o.writeEnv(cfg.Gateway.EnvFile, secrets, acct); err != nil {
			return 0, err
		}
	}

	// (c) The gateway token, readable by the service user only.
	tokenNew, err := o.ensureToken(cfg, acct)
	if err != nil {
		return 0, err
	}

	// (d) The whole config, as `openclawd validate` checks it.
	if c, rc := loadConfig(o.config, o.errw); c == nil {
		return rc, nil
	}
	if cfg.Gateway.EnvFile != "" {
		if _, err := config.ReadEnvFile(cfg.Gateway.EnvFile); err != nil {
			return 0, invalid("%v", err)
		}
	}

	// (e) Start or restart, then wait for health.
	if o.noStart {
		fmt.Fprintln(o.out, "not starting openclawd (--no-start)")
	} else if rc := o.startAndWait(ctx, cfg, len(changedKeys) > 0 || envChanged || tokenNew); rc != ExitOK {
		return rc, nil
	}
	// (f) Where to go from here.
	o.printNext(cfg)
	return ExitOK, nil
}

// copyCARoot writes --acme-ca-root beside the config, owned and readable
// like the config itself (root:openclawd 0640 in the package).
func (o *setup) copyCARoot() error {
	if cur, err := os.ReadFile(o.acmeCARoot); err == nil && bytes.Equal(cur, o.acmeCARootPEM) {
		return nil
	}
	fi, err := os.Stat(o.config)
	if err != nil {
		return err
	}
	uid, gid := owner(fi)
	if err := fsutil.WriteFileAtomicOwned(o.acmeCARoot, o.acmeCARootPEM, 0o640, uid, gid); err != nil {
		return fmt.Errorf("copying the ACME CA root: %w", err)
	}
	fmt.Fprintf(o.out, "%s: the ACME CA root, where the service can read it\n", o.acmeCARoot)
	return nil
}

func (o *setup) checkFlags() error {
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

// startAndWait restarts openclawd through the service manager (unless
// nothing changed and it is healthy already) and waits for health.
func (o *setup) startAndWait(ctx context.Context, cfg *config.Config, changed bool) int {
	client := localapi.NewClient(cfg.Control.Socket)
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	before, err := client.Status(qctx)
	cancel()
	if err == nil && !changed && before.Healthy {
		fmt.Fprintln(o.out, "openclawd is running and healthy, and nothing changed: not restarting it")
		return ExitOK
	}
	oldPID := 0
	if err == nil {
		oldPID = before.PID
	}
	if oldPID != 0 {
		fmt.Fprintln(o.out, "restarting openclawd")
	} else {
		fmt.Fprintln(o.out, "starting openclawd (a first start installs Node.js and openclaw: a minute or two)")
	}
	switch err := o.start(ctx, cfg); {
	case errors.Is(err, errNoServiceManager):
		fmt.Fprintf(o.out, "no service manager runs this host (no %s), so setup cannot start openclawd.\nRun it in the foreground, or under this host's own supervisor:\n  sudo openclawd run --config %s\n", host.systemdDir, o.config)
		return ExitOK
	case err != nil:
		fmt.Fprintf(o.errw, "openclawd: %v\n", err)
		return ExitFailure
	}
	return o.waitHealthy(ctx, client, oldPID)
}

// waitHealthy polls the control socket until a new openclawd (not oldPID)
// says healthy, its gateway fails for good, or --wait runs out. It prints
// each change of state.
func (o *setup) waitHealthy(ctx context.Context, client *localapi.Client, oldPID int) int {
	t0 := time.Now()
	deadline := t0.Add(o.wait)
	var (
		st   apitype.Status
		err  error
		last string
	)
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err = client.Status(qctx)
		cancel()
		fresh := err == nil && st.PID != oldPID
		line := progress(st, err, fresh)
		if line != last {
			fmt.Fprintf(o.out, "  [%s] %s\n", time.Since(t0).Round(time.Second), line)
			last = line
		}
		if fresh && st.Healthy {
			fmt.Fprintf(o.out, "openclawd is running; the gateway is healthy (after %s)\n", time.Since(t0).Round(time.Second))
			return ExitOK
		}
		if fresh && st.Gateway.State == apitype.GatewayFailed {
			break // waiting longer changes nothing
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(o.poll, time.Until(deadline))):
		}
	}
	if fresh := err == nil && st.PID != oldPID; !fresh {
		fmt.Fprintf(o.errw, "openclawd: openclawd did not come up within %s: %v\n", o.wait, orStale(err))
		fmt.Fprintln(o.out, "See why: `sudo systemctl status openclawd` and `sudo journalctl -u openclawd -n 50` (macOS: `openclawd logs -n 50`).")
		return ExitFailure
	}
	fmt.Fprintf(o.errw, "openclawd: the gateway is not healthy after %s\n", time.Since(t0).Round(time.Second))
	printStatus(o.out, st, palette{})
	return ExitFailure
}

func orStale(err error) error {
	if err == nil {
		return errors.New("the previous openclawd still answers")
	}
	return err
}

// progress is one line about where the start is.
func progress(st apitype.Status, err error, fresh bool) string {
	switch {
	case errors.Is(err, localapi.ErrNotRunning):
		return "waiting for openclawd to start"
	case err != nil:
		return err.Error()
	case !fresh:
		return "waiting for the previous openclawd to stop"
	}
	s := fmt.Sprintf("openclawd %s; gateway %s", st.State, st.Gateway.State)
	if st.Gateway.Reason != "" {
		s += ": " + st.Gateway.Reason
	}
	return s
}

// printNext says where the Control UI is and how to log in and pair.
func (o *setup) printNext(cfg *config.Config) {
	cfgFlag := ""
	if o.config != config.DefaultPath {
		cfgFlag = " --config " + o.config
	}
	fmt.Fprintln(o.out, "\nThe Control UI:")
	if origins := cfg.TLS.Origins(); len(origins) > 0 {
		for _, u := range origins {
			fmt.Fprintf(o.out, "  %s/\n", u)
		}
	} else {
		p := cfg.Gateway.Port
		fmt.Fprintf(o.out, "  http://127.0.0.1:%d/ on this host; from elsewhere, through SSH: ssh -N -L %d:127.0.0.1:%d <this host>\n", p, p, p)
	}
	fmt.Fprintf(o.out, "Log in with the gateway token: sudo openclawd token%s\n", cfgFlag)
	fmt.Fprintln(o.out, "A browser elsewhere must be paired once; list its request and approve it here:")
	fmt.Fprintf(o.out, "  sudo openclawd openclaw%s devices list\n", cfgFlag)
	fmt.Fprintf(o.out, "  sudo openclawd openclaw%s devices approve <requestId>\n", cfgFlag)
}
