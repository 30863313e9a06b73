package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/backup/target"
	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	svcuser "github.com/openclawd/openclawd/internal/account"
	"github.com/openclawd/openclawd/internal/privdrop"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/pins"
)

// restoreCmd puts a backup in place:
//
//	openclawd restore ARCHIVE | latest [--from NAME] [--identity FILE]
//
// It verifies and extracts the archive, then, if openclawd runs, has it
// pause the gateway, swap the state in and hold the health gate (undoing
// the swap if the gateway does not come up). If openclawd is stopped, it
// swaps the state in and the next start is the health gate.
func restoreCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("restore", stderr)
	from := fs.String("from", "", "take the archive from this backup target (backup.targets)")
	identity := fs.String("identity", "", "age identity file, for an encrypted copy (- reads standard input)")
	cfg, pos, rc := parseWithArg(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	if pos == "" {
		fmt.Fprintf(stderr, "openclawd restore: name the archive: a path, a name from `openclawd backup list`, or latest (with --from NAME for a backup target)\n")
		return ExitUsage
	}
	if rc, done := asServiceUserWithIdentity(cfg, "restore", pos, *from, args, stdout, stderr); done {
		return rc
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l := cfg.Layout()
	if err := l.Ensure(); err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	ids, err := identities(*identity, os.Stdin)
	if err == nil {
		var path string
		if path, err = resolveArchive(ctx, cfg, pos, *from, ids); err == nil {
			err = restore(ctx, cfg, path, stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: restore failed: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

func restore(ctx context.Context, cfg *config.Config, path string, stdout io.Writer) error {
	l := cfg.Layout()
	backup.CleanStaged(l)
	staged, err := backup.Stage(path, l, backup.VerifyOptions{Openclaw: gatewayVersion(cfg)})
	if err != nil {
		return err
	}
	m := staged.Manifest
	fmt.Fprintf(stdout, "verified %s: made %s on %s, openclaw %s, %d databases, %d files%s\n",
		filepath.Base(path), m.Created.Local().Format(time.DateTime), m.Host, m.OpenclawVersion, len(m.Gateway.Databases), m.Gateway.Files, holdsExtra(m))
	for _, s := range staged.Skipped {
		fmt.Fprintf(stdout, "note     %s lay outside the gateway's state dir when backed up; it is not restored\n", s)
	}
	client := localapi.NewClient(cfg.Control.Socket)
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, statusErr := client.Status(sctx)
	cancel()
	switch {
	case statusErr != nil && !errors.Is(statusErr, localapi.ErrNotRunning):
		return fmt.Errorf("cannot tell whether openclawd runs, so nothing was changed (%w); try again, or stop it first", statusErr)
	case statusErr == nil:
		fmt.Fprintf(stdout, "restoring: openclawd pauses the gateway, swaps the state in and waits for it to be healthy…\n")
		rctx, cancel := context.WithTimeout(ctx, 2*cfg.Gateway.StopTimeout+cfg.Health.StartupTimeout+2*time.Minute)
		defer cancel()
		r, err := client.Restore(rctx, apitype.RestoreRequest{Staged: staged.Dir, Archive: path})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", r.Message)
	default:
		// A starting openclawd holds the state lock: never swap under it.
		unlockState, err := backup.LockState(ctx, l, 0)
		if err != nil {
			return err
		}
		defer unlockState()
		unlock, err := backup.Lock(ctx, l, 10*time.Minute)
		if err != nil {
			return err
		}
		defer unlock()
		j, err := backup.Activate(l, staged, path)
		if err != nil {
			if j != nil {
				if uerr := backup.Undo(l, j); uerr != nil {
					return fmt.Errorf("%w; undoing it failed too: %w: do not start openclawd until that is fixed (see %s); its start undoes the restore first", err, uerr, l.Restore())
				}
			}
			return fmt.Errorf("%w; the previous state is in place", err)
		}
		fmt.Fprintf(stdout, "the restored state is in place (the previous one is kept in %s).\n"+
			"openclawd is not running: start it (`sudo systemctl start openclawd`). Its first start is the health gate:\n"+
			"if the gateway does not come up on the restored state, the previous state is put back.\n", j.Aside)
	}
	fmt.Fprint(stdout, restoreWarnings)
	return nil
}

// restoreWarnings are OpenClaw's own (docs/cli/backup.md, "Restore a
// full archive"), for what a restore rolls back.
const restoreWarnings = `Restoring is time travel; OpenClaw warns:
  - Messaging channels with ratchet state, WhatsApp especially, may need relinking.
  - Approvals and delivery state roll back too: review pending approvals.
  - Plugin dependencies are not in backups: if a plugin reports missing ones,
    run ` + "`openclawd openclaw plugins update <id>`" + `.
`

// gatewayVersion is the openclaw the gateway runs (or will): an archive
// from a newer one is refused.
func gatewayVersion(cfg *config.Config) string {
	if rt, err := daemon.InstalledRuntime(cfg); err == nil {
		if v, err := daemon.OpenclawVersion(rt); err == nil {
			return v
		}
	}
	if cfg.Openclaw.Version != "" {
		return cfg.Openclaw.Version
	}
	v, _, _ := pins.Openclaw()
	return v
}

// resolveArchive finds the archive pos names: at a target (downloaded,
// and decrypted with ids, into the backups dir), "latest" here, a path,
// or a name in the backups dir.
func resolveArchive(ctx context.Context, cfg *config.Config, pos, from string, ids []age.Identity) (string, error) {
	dir := cfg.Layout().Backups()
	if from != "" {
		t, err := openTarget(cfg, from)
		if err != nil {
			return "", err
		}
		name := pos
		if pos == "latest" {
			if name, err = backup.Latest(ctx, t); err != nil {
				return "", err
			}
		}
		return backup.Fetch(ctx, t, name, ids, dir)
	}
	if pos == "latest" {
		list, err := backup.List(dir)
		if err != nil {
			return "", err
		}
		if len(list) == 0 {
			return "", fmt.Errorf("no archive in %s: name one, or take one from a target (--from NAME)", dir)
		}
		return filepath.Join(dir, list[0].Name), nil
	}
	path := pos
	if !strings.ContainsRune(pos, '/') {
		if _, err := os.Stat(pos); err != nil {
			path = filepath.Join(dir, pos)
		}
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%w: `openclawd backup list` lists the archives", err)
	}
	if strings.HasSuffix(path, ".age") { // an encrypted copy on a disk
		t, err := target.NewDir("file", filepath.Dir(path))
		if err != nil {
			return "", err
		}
		return backup.Fetch(ctx, t, filepath.Base(path), ids, dir)
	}
	return path, nil
}

// asServiceUserWithIdentity is asServiceUser for commands that take an
// archive and --identity: root reads the key file and hands it over on
// stdin, and an archive outside the state dir (in /root, say, where the
// service user cannot look) is copied for it into a directory of its own.
func asServiceUserWithIdentity(cfg *config.Config, cmd, pos, from string, args []string, stdout, stderr io.Writer) (int, bool) {
	if os.Geteuid() != 0 || cfg.User == "root" {
		return 0, false
	}
	_, rest := positional(args)
	rest, stdin, err := identityForChild(cfg, rest)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitUsage, true
	}
	if from == "" && pos != "latest" && !insideDir(cfg.StateDir, pos) {
		if fi, err := os.Lstat(pos); err == nil && fi.Mode().IsRegular() {
			copied, cleanup, err := handOver(cfg, pos)
			if err != nil {
				fmt.Fprintf(stderr, "openclawd: %v\n", err)
				return ExitFailure, true
			}
			defer cleanup()
			pos = copied
		}
	}
	argv := append(strings.Fields(cmd), pos)
	argv = append(argv, withConfigArg(rest, cfg)...)
	return asServiceUser(cfg, argv, stderr, privdrop.Options{Stdout: stdout, Stdin: stdin})
}

// insideDir reports whether path is dir or beneath it, links resolved
// (a path that cannot be resolved counts as inside: root leaves it alone).
func insideDir(dir, path string) bool {
	abs, err := filepath.EvalSymlinks(path)
	if err != nil {
		return true
	}
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	rel, err := filepath.Rel(dir, abs)
	return err == nil && !strings.HasPrefix(rel, "..")
}

// handOver copies the archive at path (root's to read) into a new private
// directory under the system's temp dir, both the service user's, for the
// command it runs as that user; cleanup removes them.
func handOver(cfg *config.Config, path string) (string, func(), error) {
	acct, err := svcuser.Lookup(cfg.User)
	if err != nil {
		return "", nil, err
	}
	// Root reads it: never through a link, and never a file the service
	// user owns (it can read that one itself, and may have planted it).
	src, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", nil, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%s is not a regular file", path)
	}
	if int(fi.Sys().(*syscall.Stat_t).Uid) == acct.UID {
		return path, func() {}, nil // the service user's own: it reads it itself
	}
	dir, err := os.MkdirTemp("", "openclawd-restore-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	dst := filepath.Join(dir, filepath.Base(path))
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = io.Copy(f, src)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Chown(dst, acct.UID, acct.GID)
	}
	if err == nil {
		err = os.Chown(dir, acct.UID, acct.GID)
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("handing %s to the service user %s: %w", path, acct.Name, err)
	}
	return dst, cleanup, nil
}
