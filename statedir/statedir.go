// Package statedir owns the layout of openclawd's state directory: every
// subdirectory, what it is for, its owner and its mode. Everything in it
// belongs to the service user, who runs the gateway (and so an AI agent
// with tools); root never acts through a path inside it.
//
// Two entry points: Ensure, run as the service user before the daemon or a
// command uses the tree, and PrepareAsRoot, the only thing root does there:
// create the top directory and hand it (and whatever an earlier root run
// left owned by root) to the service user, through file descriptors,
// following no symlink.
package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Layout names the paths under one state dir.
type Layout struct{ Root string }

// New returns the layout rooted at root (config key state_dir).
func New(root string) Layout { return Layout{Root: filepath.Clean(root)} }

func (l Layout) join(rel ...string) string { return filepath.Join(append([]string{l.Root}, rel...)...) }

// Secrets holds generated secrets: the gateway token.
func (l Layout) Secrets() string { return l.join("secrets") }

// TokenFile is the generated gateway token (0600).
func (l Layout) TokenFile() string { return l.join("secrets", "gateway-token") }

// Logs holds openclawd's rotated log.
func (l Layout) Logs() string { return l.join("logs") }

// LogFile is openclawd's own log, which `openclawd logs` reads.
func (l Layout) LogFile() string { return l.join("logs", "openclawd.log") }

// GatewayLogs is the gateway's logging.file directory.
func (l Layout) GatewayLogs() string { return l.join("logs", "gateway") }

// Run holds the gateway's pid file.
func (l Layout) Run() string { return l.join("run") }

// PIDFile records the running gateway, to find a stale one after a crash.
func (l Layout) PIDFile() string { return l.join("run", "gateway.pid") }

// GatewayTmp is the gateway's private TMPDIR, emptied before each start.
func (l Layout) GatewayTmp() string { return l.join("tmp", "gateway") }

// Home is the gateway's HOME and working directory.
func (l Layout) Home() string { return l.join("home") }

// Gateway is OPENCLAW_STATE_DIR: the gateway's openclaw.json and data.
func (l Layout) Gateway() string { return l.join("openclaw") }

// GatewayConfig is the gateway's openclaw.json.
func (l Layout) GatewayConfig() string { return l.join("openclaw", "openclaw.json") }

// Runtime holds the versioned Node and openclaw installs.
func (l Layout) Runtime() string { return l.join("runtime") }

// NPMCache is npm's cache, kept between installs.
func (l Layout) NPMCache() string { return l.join("runtime", ".npm-cache") }

// Caddy is Caddy's storage: certificates, the ACME account, the local CA.
func (l Layout) Caddy() string { return l.join("caddy") }

// CaddyXDG is Caddy's XDG_DATA_HOME (instance data), as the unit sets it.
func (l Layout) CaddyXDG() string { return l.join("caddy-xdg") }

// Backups holds the local backup archives and their record.
func (l Layout) Backups() string { return l.join("backups") }

// Restore holds a restore's staged state and what it replaced, with its
// journal, so an interrupted restore is finished or undone at the next start.
func (l Layout) Restore() string { return l.join("restore") }

// Upgrade holds the runtime transactions' journal and state, and the
// snapshot each one can return to.
func (l Layout) Upgrade() string { return l.join("upgrade") }

// Alerts holds the alerts' state: open problems, and the outbox of
// messages not yet delivered.
func (l Layout) Alerts() string { return l.join("alerts") }

// Spend holds the daily spend cap's pause and the values it replaced.
func (l Layout) Spend() string { return l.join("spend") }

// dirs is every directory of the layout, parents first. All are the
// service user's, 0700: nobody else needs to enter any of them.
var dirs = []string{
	".", "secrets", "logs", "logs/gateway", "run", "tmp", "tmp/gateway",
	"home", "openclaw", "runtime", "caddy", "caddy-xdg", "backups", "restore", "upgrade", "alerts", "spend",
}

// DirMode is the mode of every directory of the layout.
const DirMode fs.FileMode = 0o700

// Ensure creates the layout's directories as the calling user, mode 0700.
// It refuses a directory that is a symlink or belongs to someone else, with
// the fix: those mean the tree was tampered with, or written as root by an
// earlier openclawd (`sudo openclawd runtime list` hands it back).
func (l Layout) Ensure() error {
	me := os.Geteuid()
	for _, rel := range dirs {
		p := l.join(rel)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(p, DirMode); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("creating %s: %w", p, err)
			}
			if fi, err = os.Lstat(p); err != nil {
				return fmt.Errorf("creating %s: %w", p, err)
			}
		} else if err != nil {
			return fmt.Errorf("checking %s: %w", p, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is a %s, not a directory: openclawd follows no link in its state dir; remove it (`rm %s`) and start again", p, kind(fi.Mode()), p)
		}
		if uid := ownerOf(fi); uid != me {
			return fmt.Errorf("%s belongs to uid %d, not to uid %d that openclawd runs as: run any openclawd command with sudo once (it hands state_dir to the service user), or `chown -R <user>: %s`", p, uid, me, l.Root)
		}
		if fi.Mode().Perm() != DirMode {
			if err := os.Chmod(p, DirMode); err != nil {
				return fmt.Errorf("securing %s: %w", p, err)
			}
		}
	}
	return nil
}

func ownerOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}
