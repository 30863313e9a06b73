// Package daemon wires openclawd together: logging, the control API, the
// gateway supervisor and its health checks, service-manager notifications
// and config reloads. It owns the start order and the shutdown.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/embedcaddy"
	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/logpipe"
	"github.com/openclawd/openclawd/internal/sdnotify"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/supervisor"
)

// Version is openclawd's version, set at link time.
var Version = "dev"

// Daemon is one running openclawd.
type Daemon struct {
	log     *slog.Logger
	started time.Time

	mu       sync.Mutex // guards cfg, token, tokenSrc, stopping
	cfg      *config.Config
	token    string
	tokenSrc string
	stopping bool

	sup    *supervisor.Supervisor
	prov   provisioner
	caddy  *embedcaddy.Server // nil when tls.mode is off
	checks *proxyChecks       // wss:// self-checks through caddy

	caddyLimit *logpipe.LimitHandler // Caddy's logs, under the gateway's rate limits
	caddyLog   *slog.Logger

	reloadReq chan chan reloadResult // `openclawd reload`, served by the main loop
	health    *health.Checker
	api       *localapi.Server

	gwWatch    *fileWatch // openclaw.json; refreshed after openclawd's own writes
	readyOnce  sync.Once
	readySent  atomic.Bool
	lastStatus string // last STATUS= sent; main loop only
}

// Run runs openclawd in the foreground until ctx ends, then stops the
// gateway cleanly. stderr receives the logs (journald under systemd).
func Run(ctx context.Context, cfg *config.Config, stderr io.Writer) error {
	// Every directory is the service user's and 0700, even if it existed
	// with wider modes; a link or another owner stops the start.
	if err := cfg.Layout().Ensure(); err != nil {
		return err
	}
	logFile, err := logpipe.OpenRotating(cfg.LogFile(), int64(cfg.Logs.FileMaxMB)<<20, cfg.Logs.FileKeep)
	if err != nil {
		return fmt.Errorf("opening log file: %w", err)
	}
	defer logFile.Close()
	// launchd appends stderr to a file it never rotates: there, only
	// errors go to stderr, and the whole log to the rotated file that
	// `openclawd logs` reads. journald rotates on its own.
	stderrLevel := slog.LevelInfo
	if underLaunchd() {
		stderrLevel = slog.LevelError
	}
	log := slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: stderrLevel}),
		slog.NewTextHandler(logFile, nil),
	))
	d := &Daemon{log: log, cfg: cfg, started: time.Now(), checks: newProxyChecks(),
		reloadReq: make(chan chan reloadResult),
		gwWatch:   newFileWatch(cfg.Layout().GatewayConfig())}
	err = d.run(ctx)
	if err != nil {
		log.Error("openclawd stopped with an error", "err", err)
	}
	return err
}

func (d *Daemon) run(ctx context.Context) error {
	cfg := d.config()
	d.log.Info("openclawd starting", "version", Version, "config", cfg.Path, "state_dir", cfg.StateDir, "port", cfg.Gateway.Port, "user", currentUser())
	if os.Geteuid() == 0 {
		d.log.Warn("openclawd and the gateway run as root (user: root): the gateway runs an AI agent with tools, and anything it is tricked into doing, it does as root; set user to an account of its own (`useradd --system openclawd`) and restart")
	}

	// The socket comes first, so `status` answers "starting" rather than
	// "connection refused" while the gateway boots.
	gid := groupID(cfg.Control.Group, d.log)
	ln, err := localapi.Listen(cfg.Control.Socket, gid)
	if err != nil {
		return err
	}
	d.api = localapi.NewServer(ln, d, gid, d.log.With("component", "localapi"))
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.api.Stop(sctx)
	}()

	d.health = health.New(health.Options{
		Port:            cfg.Gateway.Port,
		Token:           d.currentToken,
		StartupTimeout:  cfg.Health.StartupTimeout,
		StartupInterval: cfg.Health.StartupInterval,
		Interval:        cfg.Health.Interval,
		Timeout:         cfg.Health.Timeout,
		Failures:        cfg.Health.Failures,
		Deep:            cfg.Health.DeepProbe(),
		DeepInterval:    cfg.Health.DeepInterval,
		Logger:          d.log,
		// Only the gateway's own processes may answer: checked before
		// /startupz is believed, before the token is sent, with each check.
		Listener: func() error { return d.sup.VerifyListener() },
	})
	gwLog := d.log.With("component", "gateway")
	pipe := func(stream string, level slog.Level) *logpipe.Pipe {
		return logpipe.New(logpipe.Options{
			Logger: gwLog, Attrs: []slog.Attr{slog.String("stream", stream)}, Level: level,
			MaxLinesPerMinute: cfg.Logs.MaxLinesPerMinute, Burst: cfg.Logs.Burst,
			Redact: d.redact,
		})
	}
	stdout, stderr := pipe("stdout", slog.LevelInfo), pipe("stderr", slog.LevelWarn)
	defer stdout.Close()
	defer stderr.Close()

	d.sup, err = supervisor.New(supervisor.Options{
		Port:        cfg.Gateway.Port,
		Spec:        d.spec,
		Prober:      d.prober(),
		Policy:      supervisor.Policy{MinDelay: cfg.Restart.MinDelay, MaxDelay: cfg.Restart.MaxDelay, StableAfter: cfg.Restart.StableAfter},
		StopTimeout: cfg.Gateway.StopTimeout,
		KillTimeout: cfg.Health.KillTimeout,
		PIDFile:     cfg.Layout().PIDFile(),
		Stdout:      stdout,
		Stderr:      stderr,
		Redact:      d.redact,
		Logger:      d.log.With("component", "supervisor"),
		OnHealthy:   d.onHealthy,
		// The daemon starts no other process while a gateway runs, so every
		// orphan it adopts is the gateway's (supervisor/tree.go).
		Subreaper: true,
	})
	if err != nil {
		return err
	}
	d.caddyLimit = logpipe.Limit(d.log.Handler(), cfg.Logs.MaxLinesPerMinute, cfg.Logs.Burst, time.Minute)
	d.caddyLog = slog.New(d.caddyLimit) // embedcaddy adds component=caddy
	// Caddy first: a port that is taken or can't be bound stops openclawd
	// before anything else starts. Until the gateway is healthy it answers
	// with the "OpenClaw is starting" page, never a raw 502.
	if cfg.TLS.Mode != "off" {
		if d.caddy, err = embedcaddy.New(CaddyOptions(cfg, d.gatewayHealthy, d.caddyLog)); err == nil {
			err = d.caddy.Start(ctx)
		}
		if err != nil {
			d.caddy = nil
			return fmt.Errorf("starting HTTPS: %w", err)
		}
		go d.runProxyChecks(ctx)
	}
	// Everything the API reads exists now; serve it, then start the gateway.
	_ = d.api.Start(ctx)
	_ = d.sup.Start(ctx)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	watch := newFileWatch(cfg.Path, cfg.Gateway.EnvFile)
	// The gateway rewrites its own config; a change matters only as a
	// possible fix for a gateway that failed on it.
	gwWatch := d.gwWatch
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	flush := time.NewTicker(logpipe.DefaultFlushEvery)
	defer flush.Stop()
	var wd <-chan time.Time
	if iv := sdnotify.WatchdogInterval(); iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		wd = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return d.shutdown()
		case <-wd:
			_, _ = sdnotify.Notify("WATCHDOG=1")
		case reply := <-d.reloadReq:
			msg, err := d.reload("openclawd reload")
			reply <- reloadResult{msg, err}
			watch = newFileWatch(d.config().Path, d.config().Gateway.EnvFile)
		case <-hup:
			_, _ = d.reload("SIGHUP")
			watch = newFileWatch(d.config().Path, d.config().Gateway.EnvFile)
		case <-flush.C:
			stdout.Flush() // repeat summaries go out even while the gateway is quiet
			stderr.Flush()
			d.caddyLimit.Flush()
		case <-poll.C:
			if watch.changed() {
				_, _ = d.reload("config file changed")
				watch = newFileWatch(d.config().Path, d.config().Gateway.EnvFile)
			}
			if gwWatch.changed() {
				d.gatewayConfigChanged()
			}
			d.notifyStatus()
		}
	}
}

// prober adapts the health checker: each gateway process starts with a
// clean slate.
func (d *Daemon) prober() supervisor.Prober {
	return resetProber{d.health}
}

type resetProber struct{ c *health.Checker }

func (p resetProber) Started(ctx context.Context) error {
	p.c.Reset()
	return p.c.Started(ctx)
}

func (p resetProber) Watch(ctx context.Context, hung func(string)) { p.c.Watch(ctx, hung) }

func (d *Daemon) onHealthy() {
	d.ready("gateway healthy")
	d.checks.trigger()
}

// ready sends READY=1 once: when the gateway is first healthy, or when it
// has failed or backs off. Then openclawd must stay up to say why, rather
// than be killed and restarted by systemd's start timeout.
func (d *Daemon) ready(why string) {
	d.readyOnce.Do(func() {
		d.readySent.Store(true)
		if ok, err := sdnotify.Notify("READY=1\nSTATUS=" + why); err != nil {
			d.log.Warn("notifying the service manager", "err", err)
		} else if ok {
			d.log.Info("told the service manager openclawd is ready", "why", why)
		}
	})
}

func (d *Daemon) isReady() bool { return d.readySent.Load() }

// notifyStatus keeps `systemctl status` in step with the gateway, and
// extends systemd's start timeout while the first start makes progress: a
// first boot downloads and installs the runtime for a minute or more.
func (d *Daemon) notifyStatus() {
	ss := d.sup.Status()
	line := "gateway " + ss.State.String()
	if ss.Code != "" {
		line += " (" + ss.Code + ")"
	}
	if phase := d.prov.Phase(); phase != "" {
		line += ": " + phase
	}
	if ss.State == supervisor.Failed || ss.State == supervisor.Backoff {
		// openclawd is up and says why in status; holding READY back would
		// only have systemd kill it at the start timeout (e.g. offline, the
		// first download failing) and start the same failure again.
		d.ready(line)
	}
	if ss.State == supervisor.Starting && !d.isReady() {
		_, _ = sdnotify.Notify("EXTEND_TIMEOUT_USEC=30000000")
	}
	if line != d.lastStatus {
		d.lastStatus = line
		_, _ = sdnotify.Notify("STATUS=" + line)
	}
}

// redact masks the gateway token in gateway output.
func (d *Daemon) redact(s string) string {
	if t := d.currentToken(); t != "" && strings.Contains(s, t) {
		return strings.ReplaceAll(s, t, "[redacted]")
	}
	return s
}

func (d *Daemon) shutdown() error {
	d.mu.Lock()
	d.stopping = true
	grace := d.cfg.Gateway.StopTimeout
	d.mu.Unlock()
	_, _ = sdnotify.Notify("STOPPING=1")
	d.log.Info("openclawd stopping")
	if d.caddy != nil { // the front door first, then the gateway behind it
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = d.caddy.Stop(cctx)
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace+5*time.Second)
	defer cancel()
	err := d.sup.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("stopping gateway: %w", err)
	} else {
		err = nil
	}
	d.log.Info("openclawd stopped")
	return err
}

// reload re-reads the config. An invalid file is reported and ignored; a
// valid one applies to the next gateway start, and restarts a gateway that
// failed, since the change may be its fix. It returns what it did, for
// `openclawd reload`.
func (d *Daemon) reload(why string) (string, error) {
	old := d.config()
	cfg, err := config.Load(old.Path)
	if err != nil {
		d.log.Error("config not reloaded: it is invalid; the running configuration stays", "why", why, "err", err)
		return "", fmt.Errorf("config not reloaded; the running configuration stays: %w", err)
	}
	var notes []string
	if cfg.Gateway.Port != old.Gateway.Port || cfg.StateDir != old.StateDir || cfg.Control != old.Control {
		msg := "gateway.port, state_dir and control changes apply only after openclawd restarts (systemctl restart openclawd)"
		d.log.Warn(msg)
		notes = append(notes, msg)
		cfg.Gateway.Port, cfg.StateDir, cfg.Control = old.Gateway.Port, old.StateDir, old.Control
	}
	if err := Check(cfg); err != nil {
		d.log.Error("config not reloaded: it is invalid; the running configuration stays", "why", why, "err", err)
		return "", fmt.Errorf("config not reloaded; the running configuration stays: %w", err)
	}
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	if d.caddy != nil && cfg.TLS.Mode != "off" {
		if err := d.caddy.Reload(CaddyOptions(cfg, d.gatewayHealthy, d.caddyLog)); err != nil {
			d.log.Error("HTTPS config not applied; the previous one keeps serving", "err", err)
			return "", fmt.Errorf("HTTPS config not applied; the previous one keeps serving: %w", err)
		}
		notes = append(notes, "HTTPS config applied; open connections stay")
	} else if (d.caddy != nil) != (cfg.TLS.Mode != "off") {
		msg := "turning tls on or off needs `systemctl restart openclawd`"
		d.log.Warn(msg)
		notes = append(notes, msg)
	}
	d.checks.trigger()
	if st := d.sup.Status(); st.State == supervisor.Failed || st.State == supervisor.Backoff {
		d.log.Info("config reloaded; restarting the gateway", "why", why)
		d.sup.Restart("configuration changed")
		return strings.Join(append(notes, "config reloaded; the gateway, which was down, is restarting"), "; "), nil
	}
	d.log.Info("config reloaded: gateway.command, gateway.env and gateway.env_file apply at the next gateway start (`openclawd restart`); other settings need `systemctl restart openclawd`", "why", why)
	return strings.Join(append(notes, "config reloaded; gateway.command, gateway.env and gateway.env_file apply at the next gateway start (`openclawd restart`)"), "; "), nil
}

// Reload implements localapi.Backend: the main loop reloads, as on SIGHUP,
// and the answer comes back here.
func (d *Daemon) Reload() (string, error) {
	reply := make(chan reloadResult, 1)
	select {
	case d.reloadReq <- reply:
	case <-time.After(10 * time.Second):
		return "", errors.New("openclawd is busy; try again, or send SIGHUP")
	}
	r := <-reply
	return r.msg, r.err
}

type reloadResult struct {
	msg string
	err error
}

// gatewayHealthy tells Caddy whether to proxy or show the starting page.
func (d *Daemon) gatewayHealthy() bool {
	ss := d.sup.Status()
	return ss.State == supervisor.Running && ss.PID != 0 && d.health.Snapshot().Live
}

// gatewayConfigChanged restarts a gateway that failed, since the edit of
// openclaw.json may be the fix.
func (d *Daemon) gatewayConfigChanged() {
	if st := d.sup.Status(); st.State == supervisor.Failed {
		d.log.Info("openclaw.json changed; restarting the failed gateway")
		d.sup.Restart("openclaw.json changed")
	}
}

func (d *Daemon) config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *Daemon) currentToken() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.token
}

// Restart implements localapi.Backend.
func (d *Daemon) Restart(reason string) error {
	d.mu.Lock()
	stopping := d.stopping
	d.mu.Unlock()
	if stopping {
		return errors.New("openclawd is stopping")
	}
	d.sup.Restart(reason)
	return nil
}

// groupID resolves the control group; a missing group means root only.
func groupID(name string, log *slog.Logger) int {
	if name == "" {
		return -1
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		log.Info("control socket group not found; only root may use it", "group", name)
		return -1
	}
	id, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1
	}
	return id
}

// fileWatch notices edits of files by size, mtime and mode.
type fileWatch struct {
	mu    sync.Mutex
	paths []string
	seen  map[string]string
}

// refresh records the current state as seen: openclawd's own writes are
// not edits.
func (w *fileWatch) refresh() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.paths {
		w.seen[p] = stamp(p)
	}
}

func newFileWatch(paths ...string) *fileWatch {
	w := &fileWatch{seen: map[string]string{}}
	for _, p := range paths {
		if p != "" {
			w.paths = append(w.paths, p)
			w.seen[p] = stamp(p)
		}
	}
	return w
}

func (w *fileWatch) changed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := false
	for _, p := range w.paths {
		if s := stamp(p); s != w.seen[p] {
			w.seen[p], changed = s, true
		}
	}
	return changed
}

func stamp(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d/%d/%v", fi.Size(), fi.ModTime().UnixNano(), fi.Mode())
}
