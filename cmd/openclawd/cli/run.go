package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	svcuser "github.com/openclawd/openclawd/internal/account"
	"github.com/openclawd/openclawd/internal/privdrop"
	"github.com/openclawd/openclawd/statedir"
)

func runCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	// Started as root (`sudo openclawd run`, a unit without User=): the
	// daemon itself runs as the service user, keeping only the capability
	// to bind Caddy's ports, as the packaged unit does.
	if os.Geteuid() == 0 && cfg.User != "root" {
		if err := prepareSocketDir(cfg); err != nil {
			fmt.Fprintf(stderr, "openclawd: %v\n", err)
			return ExitFailure
		}
		if os.Getenv("NOTIFY_SOCKET") != "" {
			fmt.Fprintf(stderr, "openclawd: started as root by a service manager: switching to user %s, whose READY=1 systemd accepts only with NotifyAccess=all (the packaged unit sets User=%s instead)\n", cfg.User, cfg.User)
		}
		if rc, done := asServiceUser(cfg, append([]string{"run"}, args...), stderr, privdrop.Options{BindPrivileged: true, Stdout: stdout}); done {
			return rc
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := daemon.Run(ctx, cfg, stderr); err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// prepareSocketDir makes the control socket's directory, as systemd's
// RuntimeDirectory would: the service user's, group control.group, 0750.
func prepareSocketDir(cfg *config.Config) error {
	acct, err := svcuser.Lookup(cfg.User)
	if err != nil {
		return err
	}
	gid := acct.GID
	if g, err := user.LookupGroup(cfg.Control.Group); err == nil && cfg.Control.Group != "" {
		if id, err := strconv.Atoi(g.Gid); err == nil {
			gid = id
		}
	}
	return statedir.MkdirOwned(filepath.Dir(cfg.Control.Socket), acct.UID, gid, 0o750)
}
