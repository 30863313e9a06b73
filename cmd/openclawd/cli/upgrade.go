package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/internal/termtext"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/upgrade"
)

// upgradeCmd is
//
//	openclawd upgrade [--openclaw VERSION] [--node VERSION] [--check | --yes] [--force]
//
// The running openclawd resolves the plan, shows it, and on the owner's
// yes carries it out as one transaction that `openclawd status` follows;
// this command prints each step as it begins, and the end.
func upgradeCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("upgrade", stderr)
	req := apitype.UpgradeRequest{}
	fs.StringVar(&req.Openclaw, "openclaw", "", "move to this published openclaw version (default: the one this openclawd pins)")
	fs.StringVar(&req.Node, "node", "", "move to this Node.js version (default: the current one if the target's engines accept it, else the pinned one)")
	check := fs.Bool("check", false, "only show the plan; change nothing")
	yes := fs.Bool("yes", false, "go ahead without asking")
	fs.BoolVar(&req.Force, "force", false, "try a version that failed its health gate here before")
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	return transaction(cfg.Control.Socket, req, *check, *yes, stdout, stderr)
}

// rollbackCmd is `openclawd rollback [--check | --yes]`: back to the
// runtime before the last upgrade, with the state from just before it.
func rollbackCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("rollback", stderr)
	check := fs.Bool("check", false, "only show the plan; change nothing")
	yes := fs.Bool("yes", false, "go ahead without asking")
	force := fs.Bool("force", false, "roll back to a runtime that failed its health gate here before")
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	return transaction(cfg.Control.Socket, apitype.UpgradeRequest{Rollback: true, Force: *force}, *check, *yes, stdout, stderr)
}

func transaction(sock string, req apitype.UpgradeRequest, check, yes bool, stdout, stderr io.Writer) int {
	what := "upgrade"
	if req.Rollback {
		what = "rollback"
	}
	fail := func(err error) int {
		if errors.Is(err, localapi.ErrNotRunning) {
			err = errors.New("openclawd is not running: start it (`sudo systemctl start openclawd`); the " + what + " is gated on its gateway's health")
		}
		fmt.Fprintf(stderr, "openclawd %s: %s\n", what, termtext.Clean(err.Error()))
		return ExitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client := localapi.NewClient(sock)
	// Resolving asks the registry and may write a lockfile: minutes on a
	// slow host, never forever.
	pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	req.Check = true
	plan, err := client.Upgrade(pctx, req)
	cancel()
	if err != nil {
		return fail(err)
	}
	printPlan(stdout, plan)
	if plan.UpToDate || check {
		return ExitOK
	}
	if !yes {
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			fmt.Fprintf(stderr, "openclawd %s: pass --yes to go ahead without a prompt (or --check to only look)\n", what)
			return ExitUsage
		}
		fmt.Fprintf(stdout, "Go ahead? [y/N] ")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(stdout, "nothing was changed")
			return ExitFailure
		}
	}
	req.Check = false
	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	started, err := client.Upgrade(sctx, req)
	cancel()
	if err != nil {
		return fail(err)
	}
	if started.To != plan.To {
		fmt.Fprintf(stdout, "the plan changed since it was shown: now to openclaw %s on Node %s\n", started.To.Openclaw, started.To.Node)
	}
	return follow(ctx, client, started.ID, stdout, stderr)
}

func printPlan(w io.Writer, p apitype.UpgradePlan) {
	c := termtext.Clean
	if p.UpToDate {
		fmt.Fprintf(w, "already on openclaw %s on Node %s: nothing to do\n", c(p.From.Openclaw), c(p.From.Node))
		return
	}
	fmt.Fprintf(w, "%s: openclaw %s → %s, Node %s → %s\n", p.Kind, c(p.From.Openclaw), c(p.To.Openclaw), c(p.From.Node), c(p.To.Node))
	for _, n := range p.Notes {
		fmt.Fprintf(w, "  note   %s\n", c(n))
	}
	fmt.Fprintf(w, "  disk   about %d MB needed, %d MB free\n", p.NeedBytes>>20, p.FreeBytes>>20)
	fmt.Fprintln(w, "  steps  install beside the current runtime; verified backup; the target's database preflight;")
	fmt.Fprintln(w, "         stop, switch, start; health gate (started, hello-ok, then the stable window)")
	fmt.Fprintln(w, "         if the gate fails: the previous runtime and its state go back, and the target is blocked")
}

// follow prints each step of transaction id as it begins, until it ends.
func follow(ctx context.Context, client *localapi.Client, id string, stdout, stderr io.Writer) int {
	seen := 0
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	misses := 0
	begun := time.Now()
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := client.Status(sctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			fmt.Fprintln(stderr, "openclawd: stopped following; the transaction goes on in openclawd (`openclawd status` shows it)")
			return ExitFailure
		case err != nil:
			// openclawd restarting (kill -9, a power cut) finishes or
			// undoes the transaction at its next start.
			if misses++; misses > 120 {
				fmt.Fprintf(stderr, "openclawd: lost openclawd (%v); its next start finishes or undoes the transaction: `openclawd status` says which\n", err)
				return ExitFailure
			}
		case st.Upgrade != nil:
			misses = 0
			run := st.Upgrade.Running
			if run == nil || run.ID != id {
				run = st.Upgrade.Last
			}
			if run == nil || run.ID != id {
				if time.Since(begun) > time.Minute {
					fmt.Fprintln(stderr, "openclawd: the transaction did not begin; `openclawd logs` says why")
					return ExitFailure
				}
				break
			}
			for ; seen < len(run.Steps); seen++ {
				s := run.Steps[seen]
				fmt.Fprintf(stdout, "%s  %-10s %s\n", s.At.Local().Format(time.TimeOnly), termtext.Clean(s.Phase), termtext.Clean(s.Note))
			}
			if run.Result != "" {
				if run.Result == upgrade.ResultDone {
					return ExitOK
				}
				fmt.Fprintf(stderr, "openclawd: %s %s\n", termtext.Clean(run.Kind), termtext.Clean(run.Result))
				return ExitFailure
			}
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// upgradeStepCmd runs one step of a transaction for the daemon, in a
// child of its own (hidden: the daemon's, not the owner's):
//
//	openclawd upgrade-step plan|install|preflight --config PATH [...]
func upgradeStepCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: openclawd upgrade-step plan|install|preflight --config PATH")
		return ExitUsage
	}
	step := args[0]
	fs := newFlags("upgrade-step "+step, stderr)
	id := fs.String("id", "", "the plan's id")
	var req apitype.UpgradeRequest
	fs.StringVar(&req.Openclaw, "openclaw", "", "")
	fs.StringVar(&req.Node, "node", "", "")
	fs.BoolVar(&req.Rollback, "rollback", false, "")
	fs.BoolVar(&req.Force, "force", false, "")
	cfg, rc := withConfig(fs, args[1:], stderr)
	if cfg == nil {
		return rc
	}
	if os.Geteuid() == 0 && cfg.User != "root" {
		fmt.Fprintln(stderr, "openclawd: upgrade-step is run by openclawd itself, as the service user")
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var err error
	switch step {
	case "plan":
		var res daemon.PlanResult
		if res, err = daemon.ResolvePlan(ctx, cfg, req, *id); err == nil {
			err = json.NewEncoder(stdout).Encode(res)
		}
	case "install":
		err = daemon.InstallStep(ctx, cfg, log)
	case "preflight":
		var verdict string
		if verdict, err = daemon.PreflightStep(ctx, cfg); err == nil {
			fmt.Fprintln(stdout, verdict)
		}
	default:
		err = fmt.Errorf("unknown step %q", step)
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}
