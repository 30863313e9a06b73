package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/config/edit"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/service"
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
	costMode                               string // --cost-safe: auto, yes or no
	wait                                   time.Duration
	given                                  map[string]bool // flags on the command line

	in         *bufio.Reader
	tty        bool                   // stdin is a terminal: prompts, hidden input
	readSecret func() (string, error) // one line without echo
	user       string                 // the service user; "" (the default) means the config's

	start     func(ctx context.Context, cfg *config.Config) error
	doctor    func(ctx context.Context, cfg *config.Config) // nil: none (tests)
	poll      time.Duration
	out, errw io.Writer
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
		start: restartService, doctor: execDoctor(stdout, stderr), poll: 500 * time.Millisecond, out: stdout, errw: stderr,
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
	fs.StringVar(&o.costMode, "cost-safe", "auto", "the cost-safe profile (long heartbeat interval, no dreaming, no autonomous skill review): yes, no, or auto (yes for a new install)")
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
	name := o.user
	if name == "" {
		name = cfg.User
	}
	acct := lookupAccount(name)
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

	// (b) API keys into the env file: root's and readable by the service
	// user's group (0640), so that account can use but not change them.
	envChanged := false
	if _, err := os.Stat(cfg.Gateway.EnvFile); len(secrets) > 0 || (cfg.Gateway.EnvFile != "" && errors.Is(err, os.ErrNotExist)) {
		if envChanged, err = o.writeEnv(cfg.Gateway.EnvFile, secrets, acct); err != nil {
			return 0, err
		}
	}

	// (c) The gateway token, the service user's only, made through
	// descriptors: root follows no link in the state dir.
	tokenNew, err := o.ensureToken(cfg, acct)
	if err != nil {
		return 0, err
	}

	// (c2) The cost-safe profile, in the gateway's own config.
	if err := o.costSafe(cfg); err != nil {
		return 0, err
	}

	// (c3) The unit's memory bounds, sized from this host's RAM (it may
	// have been resized since install).
	memChanged := false
	if l, changed, err := service.WriteMemoryDropIn(ctx, service.HostRAM()); err != nil && !errors.Is(err, service.ErrNoServiceManager) && !errors.Is(err, service.ErrNotInstalled) {
		return 0, err
	} else if changed {
		memChanged = true
		fmt.Fprintf(o.out, "memory bounds: MemoryHigh=%dM MemoryMax=%dM, from this host's RAM (%s)\n", l.High>>20, l.Max>>20, service.MemoryDropInPath)
	}
	if ram := service.HostRAM() >> 20; openclaw.IsSmallHost(ram) {
		fmt.Fprintf(o.out, "small host (%d MB of RAM): the gateway peaks near 0.9 GB; openclawd starts it with\n%s", ram, openclaw.ShowSmallHost())
	}

	// (d) The whole config, as `openclawd validate` checks it.
	if c, rc := loadConfig(o.config, o.errw); c == nil {
		return rc, nil
	}
	if cfg.Gateway.EnvFile != "" {
		if _, err := config.ReadEnvFileOwned(cfg.Gateway.EnvFile, acct.uid, acct.gid); err != nil {
			return 0, invalid("%v", err)
		}
	}

	// (e) Start or restart, then wait for health.
	if o.noStart {
		fmt.Fprintln(o.out, "not starting openclawd (--no-start)")
	} else if rc := o.startAndWait(ctx, cfg, len(changedKeys) > 0 || envChanged || tokenNew || memChanged); rc != ExitOK {
		return rc, nil
	}
	// (f) Where to go from here, and whether this host is ready.
	o.printNext(cfg)
	if o.doctor != nil {
		fmt.Fprintln(o.out, "\nChecking the host (openclawd doctor):")
		o.doctor(ctx, cfg)
	}
	return ExitOK, nil
}

// execDoctor runs `openclawd doctor` for setup's last step: it drops to
// the service user itself, and its problems are printed with their fixes
// without failing a setup that did its job.
func execDoctor(stdout, stderr io.Writer) func(context.Context, *config.Config) {
	return func(ctx context.Context, cfg *config.Config) {
		bin, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "warning: not running doctor: %v\n", err)
			return
		}
		cmd := exec.CommandContext(ctx, bin, "doctor", "--config", cfg.Path)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(stdout, "doctor found problems: fix each FAIL above, then run `sudo openclawd doctor --config %s` again.\n", cfg.Path)
		}
	}
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

// restartService is setup's starter: the host's service manager.
func restartService(ctx context.Context, _ *config.Config) error { return service.Restart(ctx) }
