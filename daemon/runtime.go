package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"sync"

	"golang.org/x/term"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/runtime/fetch"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/pins"
	"github.com/openclawd/openclawd/runtime/provision"
	"github.com/openclawd/openclawd/supervisor"
)

// RuntimeOptions turns the config into what provision needs: the pins
// compiled into openclawd, unless the config overrides them.
func RuntimeOptions(cfg *config.Config, log *slog.Logger) provision.Options {
	root := cfg.Layout().Runtime()
	nodeSums := pins.NodeSHA256
	nodeVersion := pins.NodeVersion
	if cfg.Node.Version != "" {
		nodeVersion = cfg.Node.Version
	}
	if cfg.Node.SHA256 != "" {
		if p, err := node.Platform(); err == nil {
			nodeSums = map[string]string{p: cfg.Node.SHA256}
		}
	}
	pinned, integrity, lock := pins.Openclaw()
	oc := openclaw.InstallOptions{
		Root: root, Version: pinned, Integrity: integrity, Lock: lock,
		CacheDir: cfg.Layout().NPMCache(), Log: log,
	}
	if cfg.Openclaw.Version != "" && cfg.Openclaw.Version != pinned {
		oc.Version, oc.Integrity, oc.Lock = cfg.Openclaw.Version, cfg.Openclaw.Integrity, nil
	}
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	return provision.Options{
		Root: root,
		Node: node.Options{Root: root, Version: nodeVersion, SHA256: nodeSums, Mirror: cfg.Node.Mirror, Log: log,
			Progress: fetch.NewProgress(os.Stderr, tty, "Node.js "+nodeVersion, log)},
		Openclaw: oc,
		Log:      log,
	}
}

// provisioner runs provision.Ensure for the gateway's spec and remembers
// what it is doing, for status.
type provisioner struct {
	mu       sync.Mutex
	phase    string
	dirs     []string // runtime directory names in use
	fallback error    // why the wanted runtime is not the one in use
}

// InUse names the runtime directories the gateway runs from, and why an
// upgrade failed, if it did.
func (p *provisioner) InUse() ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dirs, p.fallback
}

func (p *provisioner) setPhase(s string) {
	p.mu.Lock()
	p.phase = s
	p.mu.Unlock()
}

// Phase is what provisioning is doing now, or "".
func (p *provisioner) Phase() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase
}

// ensure provisions the runtime (a no-op when it is installed). Errors a
// retry may fix are marked transient, so the supervisor backs off rather
// than fails: a VPS that boots before its network is up must recover.
func (p *provisioner) ensure(ctx context.Context, cfg *config.Config, log *slog.Logger) (provision.Runtime, error) {
	o := RuntimeOptions(cfg, log)
	// A complete current runtime is what the gateway starts on, whatever
	// this openclawd pins: moving to the pins is a transaction with a
	// snapshot and a health gate (upgradeToPins), never a silent switch.
	if rt, ok := provision.Installed(o.Root); ok {
		p.mu.Lock()
		p.dirs, p.fallback = []string{filepath.Base(rt.Node.Dir), filepath.Base(rt.Openclaw.Dir)}, nil
		p.mu.Unlock()
		return rt, nil
	}
	_, haveNode := node.Find(o.Node)
	_, haveOpenclaw := openclaw.Find(o.Openclaw)
	if !haveNode || !haveOpenclaw {
		p.setPhase(fmt.Sprintf("provisioning the runtime (Node.js %s, openclaw %s); see `openclawd logs -f`", o.Node.Version, o.Openclaw.Version))
		defer p.setPhase("")
	}
	rt, err := provision.Ensure(ctx, o)
	if err != nil {
		if errors.Is(err, fetch.ErrChecksumMismatch) || errors.Is(err, fetch.ErrNotFound) || errors.Is(err, fetch.ErrPermanent) {
			return rt, err
		}
		return rt, supervisor.Transient(err)
	}
	if rt.Fallback != nil {
		log.Error("the configured runtime could not be provisioned; the gateway keeps running the current one", "err", rt.Fallback)
	}
	p.mu.Lock()
	p.dirs, p.fallback = []string{filepath.Base(rt.Node.Dir), filepath.Base(rt.Openclaw.Dir)}, rt.Fallback
	p.mu.Unlock()
	return rt, nil
}

// LegacyHomes are where clawdbot-era state could be: the service user's
// home and the gateway's HOME.
func LegacyHomes(cfg *config.Config) []string {
	homes := []string{cfg.Layout().Home()}
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		homes = append(homes, u.HomeDir)
	}
	return homes
}

// GatewayStateDir is OPENCLAW_STATE_DIR: the gateway's config and data.
func GatewayStateDir(cfg *config.Config) string { return cfg.Layout().Gateway() }

// currentUser names the account openclawd runs as, for the log.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return fmt.Sprintf("%s (uid %s)", u.Username, u.Uid)
	}
	return fmt.Sprintf("uid %d", os.Geteuid())
}
