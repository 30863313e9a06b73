package openclaw

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/internal/caps"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/runtime/fetch"
	"github.com/openclawd/openclawd/runtime/node"
)

// InstallOptions say which openclaw to install, where and how.
type InstallOptions struct {
	Root      string // <state_dir>/runtime
	Version   string
	Integrity string // npm dist.integrity of the openclaw tarball
	// Lock holds package.json and package-lock.json for Version; nil for an
	// overridden version, whose lock is resolved at install time and
	// checked against Integrity.
	Lock     fs.FS
	Node     node.Install
	CacheDir string // npm's cache, kept between installs
	Log      *slog.Logger
}

// Install is an installed openclaw.
type Install struct {
	Dir     string
	Version string
}

// Launcher is the script the gateway runs from: `node <Launcher> gateway run`.
func (i Install) Launcher() string {
	return filepath.Join(i.Dir, "node_modules", "openclaw", "openclaw.mjs")
}

const marker = ".openclawd-installed"

// Dir is where o.Version lives.
func (o InstallOptions) Dir() string { return filepath.Join(o.Root, "openclaw-"+o.Version) }

// Find returns the install if it is complete.
func Find(o InstallOptions) (Install, bool) {
	if _, err := os.Stat(filepath.Join(o.Dir(), marker)); err != nil {
		return Install{}, false
	}
	return Install{Dir: o.Dir(), Version: o.Version}, true
}

// Ensure returns the install, running `npm ci` into a fresh temporary
// prefix first if needed. Nothing is in use until the finished tree is
// renamed into place.
func Ensure(ctx context.Context, o InstallOptions) (Install, error) {
	if in, ok := Find(o); ok {
		return in, nil
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := fsutil.RemoveAll(o.Dir()); err != nil { // no marker: never trust it
		return Install{}, fmt.Errorf("removing incomplete %s: %w", o.Dir(), err)
	}
	if err := os.MkdirAll(o.Root, 0o755); err != nil {
		return Install{}, fmt.Errorf("creating runtime dir: %w", err)
	}
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return Install{}, fmt.Errorf("creating npm cache %s: %w", o.CacheDir, err)
	}
	settings := hostNPMSettings(ctx)
	o.Log.Info("npm configuration", "registry", orDefault(settings.Registry, "npm's default"),
		"globalconfig", orDefault(settings.GlobalConfig, "none"))
	err := fetch.Install(o.Dir(), func(tmp string) error {
		if err := writeManifest(tmp, o); err != nil {
			return err
		}
		// npm's scratch space, removed before the tree is closed.
		rc, err := prepareScratch(tmp, settings)
		if err != nil {
			return err
		}
		npm := func(args ...string) error { return runNPM(ctx, o, tmp, rc, args...) }
		if o.Lock == nil {
			if err := npm("install", "--package-lock-only", "--ignore-scripts"); err != nil {
				return err
			}
		}
		if err := checkIntegrity(tmp, o.Integrity); err != nil {
			return fetch.Permanent(err)
		}
		if err := npm("ci"); err != nil {
			return err
		}
		os.Remove(rc)
		if err := checkLauncher(ctx, o, tmp); err != nil {
			return err
		}
		// The marker first: readOnly also closes the top directory.
		if err := os.WriteFile(filepath.Join(tmp, marker), []byte(o.Version+" "+o.Integrity+"\n"), 0o444); err != nil {
			return err
		}
		if err := readOnly(tmp); err != nil {
			return fmt.Errorf("making the install read-only: %w", err)
		}
		return nil
	})
	if err != nil {
		return Install{}, fmt.Errorf("installing openclaw %s: %w", o.Version, err)
	}
	return Install{Dir: o.Dir(), Version: o.Version}, nil
}

func writeManifest(dir string, o InstallOptions) error {
	if o.Lock == nil {
		return os.WriteFile(filepath.Join(dir, "package.json"), packageJSON(o.Version), 0o644)
	}
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := fs.ReadFile(o.Lock, name)
		if err != nil {
			return fmt.Errorf("reading the pinned %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkIntegrity makes sure the lock installs exactly the openclaw tarball
// openclawd pins: npm ci then verifies every package against the lock.
func checkIntegrity(dir, want string) error {
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("reading package-lock.json: %w", err)
	}
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return fmt.Errorf("reading package-lock.json: %w", err)
	}
	got := lock.Packages["node_modules/openclaw"].Integrity
	if got != want {
		return fmt.Errorf("the lockfile's openclaw integrity %q is not the pinned %q: refusing to install (a wrong openclaw.integrity, or a registry serving something else)", got, want)
	}
	return nil
}

// packageJSON is the manifest of an install without a pinned lock: the
// one dependency, openclaw at exactly version.
func packageJSON(version string) []byte {
	return fmt.Appendf(nil, `{"name":"openclawd-runtime","private":true,"dependencies":{"openclaw":%q}}`+"\n", version)
}

// prepareScratch writes npm's private userconfig (returned) into dir and
// makes the .home and .tmp that childEnv points npm at.
func prepareScratch(dir string, settings npmSettings) (rc string, err error) {
	rc = filepath.Join(dir, ".npmrc-openclawd")
	if err := os.WriteFile(rc, []byte(settings.npmrc()), 0o600); err != nil {
		return "", err
	}
	for _, d := range []string{".home", ".tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return "", err
		}
	}
	return rc, nil
}

// npmCmd is the pinned npm as openclawd always runs it: the runtime's own
// node and npm by absolute path, in dir, with a clean environment whose
// HOME and TMPDIR are in scratch (see prepareScratch), the private
// userconfig rc, the given cache, and a process group of its own.
func npmCmd(ctx context.Context, n node.Install, cacheDir, dir, scratch, rc string, args ...string) *exec.Cmd {
	args = slices.Concat([]string{n.NPM()}, args, []string{"--userconfig", rc, "--cache", cacheDir,
		"--no-audit", "--no-fund", "--no-update-notifier", "--loglevel", "warn"})
	if gc := hostGlobalConfig(); gc != "" {
		args = append(args, "--globalconfig", gc) // the host's /etc/npmrc: proxies, CA, scoped registries
	}
	cmd := exec.CommandContext(ctx, n.Bin(), args...)
	cmd.Dir = dir
	cmd.Env = childEnv(n, scratch)
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = killGroup(cmd) // npm's install scripts too, not npm alone
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runNPM runs the pinned npm in dir with a clean environment, reporting
// progress while it works: an install takes a minute on a small host.
func runNPM(ctx context.Context, o InstallOptions, dir, rc string, args ...string) error {
	cmd := npmCmd(ctx, o.Node, o.CacheDir, dir, dir, rc, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan struct{})
	go reportNPM(o.Log, dir, args[0], done)
	err := caps.Run(cmd) // install scripts get none of openclawd's capabilities
	close(done)
	if err != nil {
		return fmt.Errorf("npm %s: %w\n%s", args[0], err, tailText(out.String(), 20))
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		o.Log.Info("npm "+args[0]+" finished", "output", tailText(s, 3))
	}
	return nil
}

// reportNPM logs how far npm ci is, every 10 s, by counting how many of
// the lock's packages are on disk so far.
func reportNPM(log *slog.Logger, dir, verb string, done <-chan struct{}) {
	paths := lockPaths(dir)
	start := time.Now()
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			n := 0
			for _, p := range paths {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					n++
				}
			}
			log.Info("npm "+verb+" still working", "packages", fmt.Sprintf("%d of at most %d", n, len(paths)),
				"elapsed", time.Since(start).Round(time.Second))
		}
	}
}

// lockPaths lists the lock's package directories (optional ones for other
// platforms included, hence "at most").
func lockPaths(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return nil
	}
	var lock struct {
		Packages map[string]json.RawMessage `json:"packages"`
	}
	if json.Unmarshal(b, &lock) != nil {
		return nil
	}
	var out []string
	for p := range lock.Packages {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// checkLauncher runs `node openclaw.mjs --version` once: it proves the install runs and completes any first-run lifecycle
// while the tree is still writable (§2).
func checkLauncher(ctx context.Context, o InstallOptions, dir string) error {
	launcher := Install{Dir: dir}.Launcher()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.Node.Bin(), launcher, "--version")
	cmd.Dir = dir
	cmd.Env = childEnv(o.Node, dir)
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = killGroup(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := caps.Run(cmd)
	if err != nil {
		return fmt.Errorf("running the installed openclaw (%s --version): %w\n%s", launcher, err, tailText(out.String(), 10))
	}
	if !strings.Contains(out.String(), o.Version) {
		return fmt.Errorf("the installed openclaw reports %q, not %s", strings.TrimSpace(tailText(out.String(), 1)), o.Version)
	}
	return nil
}

// childEnv is npm's whole environment: the pinned node first on PATH, a
// private HOME, and what the host needs to reach its registry (proxies, an
// extra CA for TLS-intercepting proxies, npm_config_* settings).
func childEnv(n node.Install, scratch string) []string {
	env := []string{
		"PATH=" + filepath.Join(n.Dir, "bin") + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + filepath.Join(scratch, ".home"),
		"TMPDIR=" + filepath.Join(scratch, ".tmp"), // made by prepareScratch
		"NO_COLOR=1",
		"OPENCLAW_NO_AUTO_UPDATE=1",
		"DO_NOT_TRACK=1",
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(strings.ToLower(k), "npm_config_"),
			k == "NODE_EXTRA_CA_CERTS", k == "SSL_CERT_FILE",
			strings.EqualFold(k, "HTTP_PROXY"), strings.EqualFold(k, "HTTPS_PROXY"), strings.EqualFold(k, "NO_PROXY"):
			env = append(env, kv)
		}
	}
	return env
}

func tailText(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readOnly removes npm's scratch space and drops write permission on the
// installed tree, so the gateway's code cannot be changed by accident or
// by a script. The walk opens every entry without following symlinks and
// changes the descriptor it opened: a link planted in the tree (by npm, a
// package's script or anything else running as this user) is skipped, and
// its target is never touched.
func readOnly(dir string) error {
	for _, scratch := range []string{".home", ".tmp"} {
		if err := fsutil.RemoveAll(filepath.Join(dir, scratch)); err != nil {
			return err
		}
	}
	return fsutil.ChmodTree(dir, func(m fs.FileMode) fs.FileMode { return m &^ 0o222 })
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// procAttr puts npm and its scripts in a process group of their own, killed
// as one, that dies with openclawd. They run as this process's user: the
// caller has already become the service user.
func procAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(a)
	return a
}

// killGroup ends npm and every script it started: they share npm's group.
func killGroup(cmd *exec.Cmd) func() error {
	return func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
