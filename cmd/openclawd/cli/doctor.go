package cli

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/hostcheck"
	"github.com/openclawd/openclawd/internal/privdrop"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/provision"
	"github.com/openclawd/openclawd/service"
)

// Check levels, as hostcheck's.
const (
	levelOK    = string(hostcheck.OK)
	levelWarn  = string(hostcheck.Warn)
	levelError = string(hostcheck.Error)
	levelSkip  = string(hostcheck.Skip)
)

// check is one doctor line: ok, a note, or a problem with its fix. level
// overrides ok when set (warn, skip).
type check struct {
	name, result, fix string
	ok                bool
	level             string
}

func (c check) lvl() string {
	switch {
	case c.level != "":
		return c.level
	case c.ok:
		return levelOK
	}
	return levelError
}

// doctorReport is `doctor --json`.
type doctorReport struct {
	OK     bool               `json:"ok"` // no check at level error
	Checks []hostcheck.Result `json:"checks"`
}

// doctorCmd proves the host is ready: config, runtime, memory and swap,
// disk, clock, DNS and reachability through the public name, backups, the
// daemon, and the gateway's own doctor and security audit. It changes
// nothing, except with --fix (a swapfile, with consent). Exit 0 when no
// check failed, 1 when one did.
func doctorCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doctor", stderr)
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	fix := fs.Bool("fix", false, "offer to fix what can be fixed here (a swapfile when memory is short); needs root")
	yes := fs.Bool("yes", false, "with --fix: answer yes to every fix (for scripts)")
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	if *fix {
		if rc := doctorFix(cfg, *yes, os.Stdin, stdout, stderr); rc != ExitOK {
			return rc
		}
	}
	// The checks run as the service user, as everything in the state dir.
	argv := []string{"doctor"}
	if *asJSON {
		argv = append(argv, "--json")
	}
	if rc, done := asServiceUser(cfg, append(argv, "--config", cfg.Path), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	checks := doctorChecks(ctx, cfg)
	bad := slices.ContainsFunc(checks, func(c check) bool { return c.lvl() == levelError })
	if *asJSON {
		rep := doctorReport{OK: !bad, Checks: []hostcheck.Result{}}
		for _, c := range checks {
			rep.Checks = append(rep.Checks, hostcheck.Result{Name: c.name, Level: hostcheck.Level(c.lvl()), Detail: c.result, Fix: c.fix})
		}
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		printChecks(stdout, checks)
	}
	if bad {
		return ExitFailure
	}
	return ExitOK
}

// doctorChecks are every check, in the order they are printed.
func doctorChecks(ctx context.Context, cfg *config.Config) []check {
	checks := []check{{name: "config", result: cfg.Path + " is valid", ok: true}}
	checks = append(checks, runtimeCheck(cfg))
	if git, err := exec.LookPath("git"); err == nil {
		checks = append(checks, check{name: "git", result: "found at " + git + " (only plugins with git URLs use it)", ok: true})
	} else {
		checks = append(checks, check{name: "git", result: "not installed: fine, the gateway does not need it; plugins installed from git URLs would fail with `spawn git ENOENT`", ok: true})
	}
	legacy := openclaw.FindLegacy(daemon.GatewayStateDir(cfg), daemon.LegacyHomes(cfg)...)
	if len(legacy) == 0 {
		checks = append(checks, check{name: "legacy state", result: "no clawdbot-era state found", ok: true})
	}
	for _, l := range legacy {
		checks = append(checks, check{name: "legacy state", result: "found " + l.Path + "; openclawd does not read it",
			fix: "sudo openclawd migrate-legacy --from " + l.Path})
	}
	checks = append(checks, hostChecks(ctx, cfg)...)
	checks = append(checks, backupChecks(cfg)...)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if st, err := localapi.NewClient(cfg.Control.Socket).Status(sctx); err != nil {
		checks = append(checks, check{name: "daemon", result: err.Error(), fix: "sudo systemctl start openclawd"})
	} else {
		c := check{name: "daemon", result: fmt.Sprintf("running (pid %d); gateway %s", st.PID, st.Gateway.State), ok: st.Healthy}
		if !st.Healthy && len(st.NextSteps) > 0 {
			c.fix = st.NextSteps[0]
		}
		checks = append(checks, c)
	}
	checks = append(checks, gatewayFindings(ctx, cfg)...)
	return checks
}

// hostChecks are hostcheck's, with reachability proven through the
// running daemon's front end.
func hostChecks(ctx context.Context, cfg *config.Config) []check {
	o := hostcheck.Options{StateDir: cfg.StateDir, HTTPPort: cfg.TLS.HTTPPort, HTTPSPort: cfg.TLS.HTTPSPort}
	if cfg.TLS.Mode == "acme" || cfg.TLS.Mode == "internal" {
		o.Domains = cfg.TLS.Domain
		if cfg.TLS.Mode == "internal" {
			o.RootCAs = internalRoots(ctx, cfg)
		}
		o.Reach = func(ctx context.Context) (string, string, error) {
			r, err := localapi.NewClient(cfg.Control.Socket).Reach(ctx)
			return r.Token, r.Path, err
		}
	}
	var out []check
	for _, r := range hostcheck.Run(ctx, o) {
		out = append(out, check{name: r.Name, result: r.Detail, fix: r.Fix, level: string(r.Level), ok: r.Level != hostcheck.Error})
	}
	return out
}

func printChecks(w io.Writer, checks []check) {
	bad := 0
	for _, c := range checks {
		mark := map[string]string{levelOK: "ok  ", levelWarn: "WARN", levelError: "FAIL", levelSkip: "skip"}[c.lvl()]
		if c.lvl() == levelError {
			bad++
		}
		fmt.Fprintf(w, "%s %-13s %s\n", mark, c.name, c.result)
		if c.fix != "" {
			fmt.Fprintf(w, "     %-13s → %s\n", "", c.fix)
		}
	}
	if bad > 0 {
		fmt.Fprintf(w, "\n%d problem(s): each FAIL line says its fix.\n", bad)
	}
}

// doctorFix makes a swapfile when memory is short, after asking (or with
// --yes). It runs as root, before the checks drop to the service user.
func doctorFix(cfg *config.Config, yes bool, in io.Reader, stdout, stderr io.Writer) int {
	mem := hostcheck.Memory()
	if mem.Level != hostcheck.Error {
		fmt.Fprintln(stdout, "memory: enough; no swapfile needed")
		return ExitOK
	}
	size, path := hostcheck.SwapPlan(service.HostRAM())
	if size <= 0 {
		return failf(stderr, "memory: %s; this host has no swapfile fix here", mem.Detail)
	}
	if os.Geteuid() != 0 {
		return failf(stderr, "a swapfile needs root: sudo openclawd doctor --fix")
	}
	if _, err := os.Lstat(path); err == nil {
		return failf(stderr, "memory: %s; %s already exists, so doctor makes no swapfile: check it with `swapon --show` and size it by hand", mem.Detail, path)
	}
	fmt.Fprintf(stdout, "memory: %s\n", mem.Detail)
	fmt.Fprintf(stdout, "fix: create a %d MB swapfile at %s, turn it on, and add it to /etc/fstab so it survives reboots.\n", size>>20, path)
	if !yes {
		f, isFile := in.(*os.File)
		if !isFile || !term.IsTerminal(int(f.Fd())) {
			return failf(stderr, "not a terminal: confirm with `sudo openclawd doctor --fix --yes`")
		}
		fmt.Fprint(stdout, "create it? [y/N] ")
		ans, _ := bufio.NewReader(in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(ans)); a != "y" && a != "yes" {
			fmt.Fprintln(stdout, "no swapfile made")
			return ExitOK
		}
	}
	if err := hostcheck.MakeSwap(path, size); err != nil {
		return failf(stderr, "making the swapfile %s: %v", path, err)
	}
	fmt.Fprintf(stdout, "made %s (%d MB), turned on and added to /etc/fstab\n", path, size>>20)
	return ExitOK
}

func runtimeCheck(cfg *config.Config) check {
	if len(cfg.Gateway.Command) > 0 {
		return check{name: "runtime", result: "gateway.command is set: openclawd provisions nothing", ok: true}
	}
	o := daemon.RuntimeOptions(cfg, nil)
	n, nodeOK := node.Find(o.Node)
	oc, ocOK := openclaw.Find(o.Openclaw)
	cur, _ := provision.ReadCurrent(o.Root)
	switch {
	case nodeOK && ocOK:
		return check{name: "runtime", ok: true, result: fmt.Sprintf("Node %s and openclaw %s installed (current: %s, %s)",
			n.Version, oc.Version, cur.Node, cur.Openclaw)}
	default:
		return check{name: "runtime", ok: true, result: fmt.Sprintf("Node %s / openclaw %s not installed yet under %s; `openclawd run` installs them",
			o.Node.Version, o.Openclaw.Version, filepath.Clean(o.Root))}
	}
}

// internalRoots is Caddy's local CA root, as status names it, or nil.
func internalRoots(ctx context.Context, cfg *config.Config) *x509.CertPool {
	st, err := localapi.NewClient(cfg.Control.Socket).Status(ctx)
	if err != nil || st.TLS == nil || st.TLS.RootCert == "" {
		return nil
	}
	pem, err := os.ReadFile(st.TLS.RootCert)
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil
	}
	return pool
}
