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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/alert"
	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/embedcaddy"
	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/logpipe"
	"github.com/openclawd/openclawd/internal/redact"
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

	secrets *redact.Set // the token and the env file's values, masked in every log line

	gwWatch    *fileWatch // openclaw.json; refreshed after openclawd's own writes
	readyOnce  sync.Once
	readySent  atomic.Bool
	lastStatus string // last STATUS= sent; main loop only

	restoring  atomic.Bool // a restore holds the gateway
	backingUp  atomic.Bool // a scheduled backup runs
	upgrading  atomic.Bool // a runtime transaction runs
	supStarted atomic.Bool // the supervisor's loop runs

	runCtx context.Context // run's: ends at shutdown

	alertsMgr *alert.Manager
	alerts    alertState
	spend     spendState
	mem       memState
}

// Run runs openclawd in the foreground until ctx ends, then stops the
// gateway cleanly. stderr receives the logs (journald under systemd).
func Run(ctx context.Context, cfg *config.Config, stderr io.Writer) error {
	// Every directory is the service user's and 0700, even if it existed
	// with wider modes; a link or another owner stops the start.
	if err := cfg.Layout().Ensure(); err != nil {
		return err
	}
	logFile, err := logpipe.OpenRotating(cfg.Layout().LogFile(), int64(cfg.Logs.FileMaxMB)<<20, cfg.Logs.FileKeep)
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
	d := &Daemon{log: log, cfg: cfg, started: time.Now(), checks: newProxyChecks(), secrets: &redact.Set{},
		reloadReq: make(chan chan reloadResult),
		gwWatch:   newFileWatch(cfg.Layout().GatewayConfig())}
	err = d.run(ctx)
	if err != nil {
		log.Error("openclawd stopped with an error", "err", err)
	}
	return err
}

func (d *Daemon) run(ctx context.Context) error {
	d.runCtx = ctx
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
			Secrets: d.secrets,
			OnLine:  d.gatewayLine,
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
		Redact:      d.secrets.Redact,
		Logger:      d.log.With("component", "supervisor"),
		OnHealthy:   d.onHealthy,
		// The daemon starts no other process while a gateway runs, so every
		// orphan it adopts is the gateway's (supervisor/tree.go).
		Subreaper: true,
	})
	if err != nil {
		return err
	}
	// The state lock is held for the daemon's life: an offline restore
	// waits for no one and swaps only while it is free.
	unlockState, err := backup.LockState(ctx, cfg.Layout(), 5*time.Minute)
	if err != nil {
		return fmt.Errorf("%w (another openclawd, or an offline restore that did not finish)", err)
	}
	defer unlockState()
	// An interrupted upgrade, then an interrupted restore, is finished or
	// undone before Caddy (which would recreate its storage) or the
	// gateway touches the state.
	resumeUpgrade := d.recoverUpgrade(ctx)
	pending := d.recoverRestore()
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
	// Everything the API reads exists now; serve it, then start the gateway
	// (on a restore's state, if one is waiting for its health gate).
	if err := d.startAlerts(ctx); err != nil {
		d.log.Error("alerts are off", "err", err)
	} else {
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = d.alertsMgr.Stop(sctx)
		}()
	}
	_ = d.api.Start(ctx)
	// The gate holds the backups lock, as a restore does: no backup is
	// made of a state that may yet be swapped back.
	var unlockGate func()
	if pending != nil {
		if unlockGate, err = backup.Lock(ctx, cfg.Layout(), 0); err != nil {
			d.log.Warn("a backup holds the lock during the restore's health gate", "err", err)
			unlockGate = func() {}
		}
	}
	d.holdForSpend()
	_ = d.sup.Start(ctx)
	d.supStarted.Store(true)
	go d.watchSpend(ctx)
	go d.watchMemory(ctx)
	if resumeUpgrade != nil {
		go resumeUpgrade()
	} else {
		go d.upgradeToPins(ctx)
	}
	if pending != nil {
		d.restoring.Store(true)
		go func() {
			defer d.restoring.Store(false)
			defer unlockGate()
			if err := d.gate(pending); err != nil {
				d.log.Error("restore undone", "err", err)
			}
		}()
	}
	go d.scheduleBackups(ctx)

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

// gatewayHealthy tells Caddy whether to proxy or show the starting page.
func (d *Daemon) gatewayHealthy() bool {
	ss := d.sup.Status()
	return ss.State == supervisor.Running && ss.PID != 0 && d.health.Snapshot().Live
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
