package cli

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/openclawd/openclawd/config"
	svcuser "github.com/openclawd/openclawd/internal/account"
	"github.com/openclawd/openclawd/internal/privdrop"
	"github.com/openclawd/openclawd/statedir"
)

// asServiceUser is how a root command works in the state dir: it gives
// the state dir to the service user (root's only act there, through
// descriptors) and runs the same command again as that user, whose files
// are then all it can touch. done is false when this process is not root,
// or the config says user: root: go on here.
func asServiceUser(cfg *config.Config, argv []string, stderr io.Writer, o privdrop.Options) (rc int, done bool) {
	if os.Geteuid() != 0 || cfg.User == "root" {
		return 0, false
	}
	acct, err := svcuser.Lookup(cfg.User)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitConfig, true
	}
	if err := statedir.PrepareAsRoot(cfg.StateDir, acct); err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure, true
	}
	if err := readableBy(cfg.Path, acct); err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitConfig, true
	}
	if o.Env == nil {
		o.Env = map[string]string{}
	}
	// As the packaged unit sets them: a HOME of the service's own, and
	// Caddy's instance data under the state dir.
	o.Env["HOME"] = cfg.StateDir
	if os.Getenv("XDG_DATA_HOME") == "" {
		o.Env["XDG_DATA_HOME"] = cfg.Layout().CaddyXDG()
	}
	o.Stderr = stderr
	rc, err = privdrop.Run(acct, argv, o)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
	}
	return rc, true
}

// readableBy checks that a can read path (the config, which the command
// run as a reads again), so that the failure is said here with its fix
// rather than as a bare "permission denied" from the child.
func readableBy(path string, a svcuser.Account) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !a.Allows(fi, 0o4) {
		return fmt.Errorf("%s is not readable by the service user %s, which openclawd runs as: `chgrp %s %s && chmod 640 %s`", path, a, a.Name, path, path)
	}
	d, mode, err := a.Blocker(path)
	if err != nil {
		return err
	}
	if d != "" {
		return fmt.Errorf("the service user %s cannot reach %s: %s is mode %04o; `chmod o+x %s`, or keep the config in /etc/openclawd", a, path, d, mode, d)
	}
	return nil
}

// withConfigArg is a command's arguments with --config set to the file
// already loaded (absolute), so the child reads the same one.
func withConfigArg(args []string, cfg *config.Config) []string {
	return append(slices.Clone(args), "--config", cfg.Path)
}
