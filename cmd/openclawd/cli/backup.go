package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/backup/target"
	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/internal/privdrop"
)

// backupCmd makes a backup now, or lists, verifies or makes keys:
//
//	openclawd backup [--to NAME]
//	openclawd backup list [--from NAME]
//	openclawd backup verify [ARCHIVE|latest] [--from NAME] [--identity FILE] [--restore-test]
//	openclawd backup keygen
func backupCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return backupListCmd(args[1:], stdout, stderr)
		case "verify":
			return backupVerifyCmd(args[1:], stdout, stderr)
		case "keygen":
			return keygenCmd(args[1:], stdout, stderr)
		}
	}
	fs := newFlags("backup", stderr)
	to := fs.String("to", "", "copy to this target only (default: every target in backup.targets)")
	local := fs.Bool("local", false, "make the archive here only, with no copies")
	scheduled := fs.Bool("scheduled", false, "run as the daemon's schedule does (one summary line)")
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	if rc, done := asServiceUser(cfg, append([]string{"backup"}, withConfigArg(args, cfg)...), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	if err := cfg.Layout().Ensure(); err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var only []string // nil: every target
	switch {
	case *local && *to != "":
		fmt.Fprintf(stderr, "openclawd backup: --local and --to exclude each other\n")
		return ExitUsage
	case *local:
		only = []string{}
	case *to != "":
		only = []string{*to}
	}
	log := slog.New(slog.DiscardHandler)
	wait := 10 * time.Minute // for a scheduled backup in progress
	if *scheduled {
		wait = 0 // the schedule tries again later
	}
	rep, err := daemon.Backup(ctx, cfg, only, wait, log)
	if rep.Archive.Path != "" {
		a, m := rep.Archive, rep.Archive.Manifest
		if *scheduled {
			fmt.Fprintf(stdout, "%s (%s, %s)\n", a.Path, mb(a.Size), a.Took.Round(time.Millisecond))
		} else {
			fmt.Fprintf(stdout, "backup   %s (%s, verified, %s, of which openclaw's own backup %s)\n", a.Path, mb(a.Size), a.Took.Round(100*time.Millisecond), a.Openclaw.Round(100*time.Millisecond))
			fmt.Fprintf(stdout, "holds    openclaw %s state: openclaw.json, %d databases, %d files (%s)%s\n",
				m.OpenclawVersion, len(m.Gateway.Databases), m.Gateway.Files, mb(m.Gateway.Bytes), holdsExtra(m))
		}
		for _, c := range rep.Copies {
			if c.Err != nil {
				fmt.Fprintf(stdout, "copy     %s: FAILED\n", c.Target)
				continue
			}
			fmt.Fprintf(stdout, "copy     %s: %s (%s, %s)\n", c.Target, c.Name, mb(c.Size), c.Took.Round(100*time.Millisecond))
		}
		if rep.Pruned > 0 && !*scheduled {
			fmt.Fprintf(stdout, "pruned   %d archives (backup.keep)\n", rep.Pruned)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: backup failed: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// holdsExtra lists the rest of what an archive holds.
func holdsExtra(m backup.Manifest) string {
	var parts []string
	caddy := 0
	for _, f := range m.Files {
		switch {
		case f.Name == "secrets/gateway-token":
			parts = append(parts, "the gateway token")
		case strings.HasPrefix(f.Name, "caddy/"):
			caddy++
		case strings.HasPrefix(f.Name, "config/"):
			parts = append(parts, strings.TrimPrefix(f.Name, "config/"))
		}
	}
	if caddy > 0 {
		parts = append(parts, fmt.Sprintf("Caddy's certificates and account (%d files)", caddy))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

func backupListCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("backup list", stderr)
	from := fs.String("from", "", "list the archives at this target (default: this host's)")
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	if rc, done := asServiceUser(cfg, append([]string{"backup", "list"}, withConfigArg(args, cfg)...), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	var list []backup.Archive
	var err error
	where := cfg.Layout().Backups()
	if *from == "" {
		list, err = backup.List(where)
	} else {
		var t target.Target
		if t, err = openTarget(cfg, *from); err == nil {
			where = t.Describe()
			var objs []target.Object
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if objs, err = t.List(ctx); err == nil {
				for _, o := range objs {
					if at, ok := backup.ArchiveTime(o.Name); ok {
						list = append(list, backup.Archive{Name: o.Name, Created: at, Size: o.Size})
					}
				}
				backup.SortNewest(list)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "%d archives in %s\n", len(list), where)
	for _, a := range list {
		fmt.Fprintf(stdout, "  %s  %9s  %s ago\n", a.Name, mb(a.Size), time.Since(a.Created).Round(time.Minute))
	}
	return ExitOK
}

// openTarget opens the configured target name with the env file's
// credentials.
func openTarget(cfg *config.Config, name string) (target.Target, error) {
	tc, ok := cfg.Backup.Target(name)
	if !ok {
		return nil, fmt.Errorf("no backup target %q in %s (backup.targets)", name, cfg.Path)
	}
	env, err := cfg.ReadEnv()
	if err != nil {
		return nil, err
	}
	return daemon.OpenTarget(cfg, tc, env)
}

func keygenCmd(args []string, stdout, stderr io.Writer) int {
	if rc := parse(newFlags("backup keygen", stderr), args); rc >= 0 {
		return rc
	}
	id, rcpt, err := target.GenerateIdentity()
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintf(stderr, `A new age key pair for encrypted backups.

1. Keep the secret key below OFF this host: in your password manager, and
   printed or on a USB stick. Without it no copy can be restored; anyone
   with it can read every copy. Save it to a file (e.g. backup-key.txt) only
   where you restore from.
2. Put the public key in the config:

   backup:
     recipients: [%s]

`, rcpt)
	fmt.Fprintf(stdout, "# public key: %s\n%s\n", rcpt, id)
	return ExitOK
}

// identities reads the --identity value: a file, or - for standard input
// (where a root openclawd passes the file it read for the service user).
func identities(path string, stdin io.Reader) ([]age.Identity, error) {
	switch path {
	case "":
		return nil, nil
	case "-":
		ids, err := age.ParseIdentities(stdin)
		if err != nil {
			return nil, fmt.Errorf("the age identity on standard input is not usable (%v): it must hold the AGE-SECRET-KEY-1... line", err)
		}
		return ids, nil
	}
	return target.ParseIdentityFile(path)
}

// identityForChild handles --identity when root hands the command to the
// service user: root reads the file (the service user may not be able
// to), and the child reads it on standard input. A key kept in the state
// dir is refused: it must not live beside the backups.
func identityForChild(cfg *config.Config, args []string) ([]string, io.Reader, error) {
	out := make([]string, 0, len(args))
	var stdin io.Reader
	for i := 0; i < len(args); i++ {
		a := args[i]
		var path string
		switch {
		case a == "--identity" || a == "-identity":
			if i+1 < len(args) {
				path = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--identity="), strings.HasPrefix(a, "-identity="):
			_, path, _ = strings.Cut(a, "=")
		default:
			out = append(out, a)
			continue
		}
		if path == "-" {
			stdin = os.Stdin
		} else if path != "" {
			if insideDir(cfg.StateDir, path) {
				return nil, nil, fmt.Errorf("%s is inside state_dir (or cannot be resolved): the age identity must not live beside the backups; keep it off this host", path)
			}
			// Root reads it, so never through a link.
			f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
			if err != nil {
				return nil, nil, fmt.Errorf("reading the age identity: %w", err)
			}
			b, err := io.ReadAll(io.LimitReader(f, 64<<10))
			f.Close()
			if err != nil {
				return nil, nil, fmt.Errorf("reading the age identity: %w", err)
			}
			stdin = strings.NewReader(string(b))
		}
		out = append(out, "--identity", "-")
	}
	return out, stdin, nil
}

// positional takes one leading argument that is not a flag (restore
// latest --from x), so that flags may follow it.
func positional(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// parseWithArg is withConfig for commands with one optional argument,
// before or after the flags.
func parseWithArg(fs *flag.FlagSet, args []string, stderr io.Writer) (*config.Config, string, int) {
	pos, rest := positional(args)
	path := fs.String("config", config.DefaultPath, "config file")
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, "", ExitOK
		}
		return nil, "", ExitUsage
	}
	if fs.NArg() > 0 {
		if pos != "" || fs.NArg() > 1 {
			fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(fs.NArg()-1))
			return nil, "", ExitUsage
		}
		pos = fs.Arg(0)
	}
	cfg, rc := loadConfig(*path, stderr)
	return cfg, pos, rc
}
