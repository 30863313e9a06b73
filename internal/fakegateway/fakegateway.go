// Package fakegateway is a stand-in for the OpenClaw gateway in tests. It
// speaks the real HTTP health surface and WebSocket protocol v4, logs and
// exits like the real gateway (docs/openclaw-gateway.md §3, §6, §7, §11, §12),
// and adds what the real one can't do on demand: start modes (config error,
// crash, bad bind, ignored SIGTERM) and cues over HTTP (hang, exit, restart,
// log flood). Swapping the real gateway in for it should need no test changes
// beyond the command line.
//
// Main is the whole program; cmd/fakegateway is a one-line wrapper. Build
// compiles it for tests.
//
// Environment (besides the gateway's own OPENCLAW_GATEWAY_PORT,
// OPENCLAW_GATEWAY_TOKEN, OPENCLAW_SUPERVISOR_MODE, OPENCLAW_NO_RESPAWN, the
// systemd/launchd markers of §7, and NO_COLOR):
//
//	FAKE_GATEWAY_STARTUP_MS  delay before /startupz says started (default 300)
//	FAKE_GATEWAY_TICK_MS     WebSocket tick interval (default 30000)
//	FAKE_GATEWAY_MODE_FILE   file whose first word picks this start's mode:
//	                         normal, exit78, crash, bind-any, ignore-term,
//	                         restart-at-start, escape-any, escape-idle
//	                         (missing or empty: normal)
//	FAKE_GATEWAY_EVENTS      file to append "start pid=N" / "exit pid=N code=C"
//	FAKE_GATEWAY_ENV_DUMP    file to write the process environment to, as JSON
//	FAKE_GATEWAY_BIND_RETRY_MS  retry a port in use this long before exit 1 (default 0)
//	FAKE_GATEWAY_LOG_CONNECT    1: print the token of every connect frame received
//	FAKE_GATEWAY_WAIT_FILE      wait for this file to exist before listening;
//	                            FAKE_GATEWAY_EVENTS then gets "listening pid=N port=P"
//
// Modes escape-any and escape-idle spawn, before /startupz says started, a
// grandchild that calls setsid and is orphaned (double fork), listening on
// 0.0.0.0 or idle; FAKE_GATEWAY_EVENTS gets "escaped pid=N listen=B".
//
// Cues, POST on the gateway port from loopback with header X-Fake-Token set
// to the gateway token:
//
//	/__fake/hang              stop answering: HTTP, WebSocket messages, ticks
//	                          and even SIGTERM (a wedged event loop runs no
//	                          signal handlers); only SIGKILL or the exit cue end it
//	/__fake/exit?code=N       exit N at once
//	/__fake/restart           restart as SIGUSR2 does: exit 0 when supervised
//	                          (§7), else in place with the same PID
//	/__fake/flood?rate=1000&seconds=60&kind=same|varied&stream=stdout|stderr
//	                          print rate lines a second in the background
package fakegateway

import (
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Version is what the fake reports in /startupz and hello-ok.
const Version = "2026.9.6-fake"

const (
	exitConfig = 78 // EX_CONFIG: the real gateway's "don't respawn me" code (§6)
	exitUsage  = 2  // a broken test setup, e.g. an unknown mode word
)

// Phases as /startupz reports them.
const (
	phaseStarting int32 = iota
	phaseStarted
	phaseDraining
)

// gateway is the running fake. Fields set before run are read-only after.
type gateway struct {
	cfg  config
	out  *output
	rec  recorder
	born time.Time

	phase atomic.Int32
	hung  atomic.Bool // set by the hang cue, never cleared

	restartReq chan string // restart cues, handled by the main loop
	startTimer *time.Timer // main loop only

	mu    sync.Mutex
	conns map[*wsConn]struct{} // guarded by mu
	heap  [][]byte             // the grow cue's leak; guarded by mu
}

// Main runs the fake gateway with os.Args and the environment. It never
// returns: every path ends in os.Exit with the code the real gateway uses.
func Main() {
	if runRole() {
		return
	}
	g := &gateway{
		out:        newOutput(os.Stdout, os.Stderr, os.Getenv("NO_COLOR") == ""),
		rec:        recorder{path: os.Getenv("FAKE_GATEWAY_EVENTS")},
		born:       time.Now(),
		restartReq: make(chan string, 1),
		conns:      make(map[*wsConn]struct{}),
	}
	g.rec.event("start pid=%d", os.Getpid())
	if err := dumpEnv(os.Getenv("FAKE_GATEWAY_ENV_DUMP")); err != nil {
		g.out.errorf("fakegateway: %v", err)
	}
	mode, err := readMode(os.Getenv("FAKE_GATEWAY_MODE_FILE"))
	if err != nil {
		g.out.errorf("fakegateway: %v", err)
		g.exit(exitUsage)
	}
	if mode == "exit78" {
		// The real gateway validates its config before it listens (§5, §6).
		g.out.errorf(`Invalid config at /x/openclaw.json: <root>: Unrecognized key: "bogus"`)
		time.Sleep(200 * time.Millisecond)
		g.exit(exitConfig)
	}
	cfg, err := loadConfig(os.Args[1:], os.Getenv)
	if err != nil {
		g.out.errorf("%v", err)
		g.exit(exitConfig)
	}
	cfg.mode = mode
	g.cfg = cfg
	g.run()
}

// run listens at once, flips to started after the startup delay, and serves
// signals and restart cues until something exits the process.
func (g *gateway) run() {
	if f := os.Getenv("FAKE_GATEWAY_WAIT_FILE"); f != "" {
		for _, err := os.Stat(f); err != nil; _, err = os.Stat(f) {
			time.Sleep(10 * time.Millisecond) // a test's cue to bind now
		}
	}
	lns, err := g.listen()
	if err != nil {
		g.out.errorf("Gateway failed to start: %v", err)
		g.exit(1) // the real gateway exits 1 on EADDRINUSE (§6)
	}
	g.rec.event("listening pid=%d port=%d", os.Getpid(), g.cfg.port)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR2)

	// Hijacked WebSockets and hung handlers make net/http chatty; the real
	// gateway logs nothing for HTTP.
	srv := &http.Server{Handler: g, ReadHeaderTimeout: time.Minute, ErrorLog: log.New(io.Discard, "", 0)}
	for _, ln := range lns {
		go func() { _ = srv.Serve(ln) }()
	}
	g.banner(lns)
	if m := g.cfg.mode; m == "escape-any" || m == "escape-idle" {
		// Before started: the supervisor's first loopback check must see it.
		if _, err := g.escape(m == "escape-any"); err != nil {
			g.out.errorf("fakegateway: %v", err)
			g.exit(exitUsage)
		}
	}

	g.startTimer = time.NewTimer(g.cfg.startup)
	for {
		select {
		case <-g.startTimer.C:
			g.started()
		case s := <-sigs:
			g.signal(s)
		case src := <-g.restartReq:
			g.restart(src)
		}
	}
}

func (g *gateway) started() {
	if g.hung.Load() {
		return
	}
	g.phase.Store(phaseStarted)
	g.out.info("gateway", "ready in %dms", time.Since(g.born).Milliseconds())
	switch g.cfg.mode {
	case "crash":
		time.AfterFunc(200*time.Millisecond, func() {
			g.out.errorf("Error: fake crash (FAKE_GATEWAY_MODE_FILE says crash)\n    at fakegateway.started")
			g.exit(1)
		})
	case "restart-at-start":
		g.out.info("gateway", "full process restart (supervisor restart)")
		g.exit(0)
	}
}

func (g *gateway) signal(s os.Signal) {
	if g.hung.Load() {
		return // a wedged event loop runs no signal handlers
	}
	switch s {
	case syscall.SIGUSR2:
		g.restart("SIGUSR2")
	case syscall.SIGTERM, syscall.SIGINT:
		if s == syscall.SIGTERM && g.cfg.mode == "ignore-term" {
			g.out.info("gateway", "received SIGTERM; ignoring it (fake mode ignore-term)")
			return
		}
		g.out.info("gateway", "received %s; shutting down", signalName(s))
		g.phase.Store(phaseDraining)
		g.closeAll("gateway stopping", 0)
		g.out.info("shutdown", "completed cleanly")
		g.exit(0)
	}
}

// restart follows resolveGatewayRestartDecision (§7): exit 0 when a supervisor
// is visible in the environment, else restart in place with the same PID.
func (g *gateway) restart(source string) {
	if g.hung.Load() {
		return
	}
	g.out.info("gateway", "restart requested (%s)", source)
	g.phase.Store(phaseDraining)
	expect := g.cfg.startup.Milliseconds() + 500
	g.closeAll("gateway restarting", expect)
	if g.cfg.supervised {
		g.out.info("gateway", "full process restart (supervisor restart)")
		g.exit(0)
	}
	g.out.info("gateway", "in-process restart (same pid %d)", os.Getpid())
	g.phase.Store(phaseStarting)
	g.startTimer.Reset(g.cfg.startup)
}

// exit records the exit and ends the process. It takes the output lock and
// never releases it, so no half-written line follows and a second caller
// waits for the first to finish exiting.
func (g *gateway) exit(code int) {
	g.out.mu.Lock()
	g.rec.event("exit pid=%d code=%d", os.Getpid(), code)
	os.Exit(code)
}

// stall blocks forever once the hang cue has been given: the port stays open
// and the process alive, but nothing answers.
func (g *gateway) stall() {
	if g.hung.Load() {
		select {}
	}
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return s.String()
}
