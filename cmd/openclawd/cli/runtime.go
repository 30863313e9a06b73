package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"

	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/internal/privdrop"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/provision"
)

func runtimeCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "install" && args[0] != "list" && args[0] != "prune") {
		fmt.Fprintln(stderr, "usage: openclawd runtime install|list|prune [--config PATH] [--json]")
		return ExitUsage
	}
	verb := args[0]
	fs := newFlags("runtime "+verb, stderr)
	asJSON := fs.Bool("json", false, "print JSON (list)")
	cfg, rc := withConfig(fs, args[1:], stderr)
	if cfg == nil {
		return rc
	}
	// As the service user: its runtime/ is its own, and root must not
	// follow what it can swap there.
	if rc, done := asServiceUser(cfg, append([]string{"runtime"}, withConfigArg(args, cfg)...), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	root := cfg.Layout().Runtime()
	switch verb {
	case "install":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := cfg.Layout().Ensure(); err != nil {
			fmt.Fprintf(stderr, "openclawd: %v\n", err)
			return ExitFailure
		}
		log := slog.New(slog.NewTextHandler(stderr, nil))
		o := daemon.RuntimeOptions(cfg, log)
		o.KeepCurrent = true
		cur, hadCurrent := daemon.CurrentRuntime(cfg)
		rt, err := provision.Ensure(ctx, o)
		if err == nil && rt.Fallback != nil {
			err = rt.Fallback
		}
		if err != nil {
			fmt.Fprintf(stderr, "openclawd: %v\n", err)
			return ExitFailure
		}
		fmt.Fprintf(stdout, "runtime ready: %s, %s\n", rt.Node.Dir, rt.Openclaw.Dir)
		if hadCurrent && (filepath.Base(rt.Node.Dir) != cur.Dirs.Node || filepath.Base(rt.Openclaw.Dir) != cur.Dirs.Openclaw) {
			fmt.Fprintf(stdout, "the gateway stays on %s: `sudo openclawd upgrade` switches, with a backup, a preflight and a health gate\n", cur)
		}
	case "list":
		ents, err := provision.List(root)
		if err != nil {
			fmt.Fprintf(stderr, "openclawd: %v\n", err)
			return ExitFailure
		}
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(ents)
			return ExitOK
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSIZE\tSTATE")
		for _, e := range ents {
			state := "installed"
			switch {
			case e.Current:
				state = "current"
			case !e.Complete:
				state = "incomplete (prune removes it)"
			}
			fmt.Fprintf(tw, "%s\t%.0f MB\t%s\n", e.Name, float64(e.Bytes)/1e6, state)
		}
		tw.Flush()
	case "prune":
		// Keep what the running gateway uses, whatever `current` says, and
		// what an upgrade in progress or `rollback` would return to.
		var keep []string
		if st, err := localapi.NewClient(cfg.Control.Socket).Status(context.Background()); err == nil {
			keep = st.Gateway.Runtime
		}
		ust, err := daemon.UpgradeStore(cfg).Load()
		if err != nil {
			fmt.Fprintf(stderr, "openclawd: %v\n", err)
			return ExitFailure
		}
		if j := ust.Journal; j != nil {
			keep = append(keep, j.From.Dirs.Node, j.From.Dirs.Openclaw, j.To.Dirs.Node, j.To.Dirs.Openclaw)
		}
		if p := ust.Previous; p != nil {
			keep = append(keep, p.Runtime.Dirs.Node, p.Runtime.Dirs.Openclaw)
		}
		removed, err := provision.Prune(context.Background(), root, keep...)
		for _, e := range removed {
			fmt.Fprintf(stdout, "removed %s (%.0f MB)\n", e.Name, float64(e.Bytes)/1e6)
		}
		if err != nil {
			fmt.Fprintf(stderr, "openclawd: %v\n", err)
			return ExitFailure
		}
		if len(removed) == 0 {
			fmt.Fprintln(stdout, "nothing to prune")
		}
	}
	return ExitOK
}

func migrateLegacyCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("migrate-legacy", stderr)
	from := fs.String("from", "", "the legacy state directory (default: the one status reports)")
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	if rc, done := asServiceUser(cfg, append([]string{"migrate-legacy"}, withConfigArg(args, cfg)...), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	ctx := context.Background()
	if _, err := localapi.NewClient(cfg.Control.Socket).Status(ctx); err == nil {
		fmt.Fprintln(stderr, "openclawd: openclawd is running; stop it first (`sudo systemctl stop openclawd`), so the gateway does not write while its state is copied")
		return ExitFailure
	}
	dst := daemon.GatewayStateDir(cfg)
	src := *from
	if src == "" {
		found := openclaw.FindLegacy(dst, daemon.LegacyHomes(cfg)...)
		if len(found) == 0 {
			fmt.Fprintln(stdout, "no legacy (clawdbot) state found")
			return ExitOK
		}
		src = found[0].Path
		if found[0].Kind == "config" {
			src = filepath.Dir(src)
		}
	}
	backup, err := openclaw.Migrate(src, dst)
	if errors.Is(err, os.ErrPermission) {
		// It runs as the service user, which root's own ~/.clawdbot shuts out.
		home := cfg.Layout().Home()
		fmt.Fprintf(stderr, "openclawd: the service user %s cannot read %s (%v): copy it into its home first: `sudo cp -a %s %s/ && sudo chown -R %s: %s/%s`, then run `sudo openclawd migrate-legacy --from %s/%s`\n",
			cfg.User, src, err, src, home, cfg.User, home, filepath.Base(src), home, filepath.Base(src))
		return ExitFailure
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: migrating %s: %v\n", src, err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "copied and verified %s into %s; the original is unchanged\n", src, dst)
	if backup != "" {
		fmt.Fprintf(stdout, "the previous %s is kept at %s\n", dst, backup)
	}
	return ExitOK
}

func tokenCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("token", stderr)
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	if rc, done := asServiceUser(cfg, append([]string{"token"}, withConfigArg(args, cfg)...), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	env, err := cfg.ReadEnv()
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	if _, err := os.Lstat(cfg.TokenFile()); err != nil && env["OPENCLAW_GATEWAY_TOKEN"] == "" {
		fmt.Fprintf(stderr, "openclawd: no gateway token yet (%v); it is generated when openclawd first runs\n", err)
		return ExitFailure
	}
	tok, _, err := cfg.GatewayToken(env)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintln(stdout, tok)
	return ExitOK
}
