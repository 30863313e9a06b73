package cli

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/internal/privdrop"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/runtime/node"
	"github.com/openclawd/openclawd/runtime/openclaw"
	"github.com/openclawd/openclawd/runtime/provision"
)

// check is one doctor line: ok, a note, or a problem with its fix.
type check struct {
	name, result, fix string
	ok                bool
}

// doctorCmd checks the host without changing anything: config, runtime,
// legacy state, git, and the running daemon. Exit 0 when nothing is wrong.
func doctorCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doctor", stderr)
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	if rc, done := asServiceUser(cfg, append([]string{"doctor"}, withConfigArg(args, cfg)...), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	checks := []check{{name: "config", result: cfg.Path + " is valid", ok: true}}
	checks = append(checks, runtimeCheck(cfg))
	if git, err := exec.LookPath("git"); err == nil {
		checks = append(checks, check{name: "git", result: "found at " + git + " (only plugins with git URLs use it)", ok: true})
	} else {
		checks = append(checks, check{name: "git", result: "not installed: fine, the gateway does not need it; plugins installed from git URLs would fail with `spawn git ENOENT`", ok: true})
	}
	legacy := openclaw.FindLegacy(daemon.GatewayStateDir(cfg), daemon.LegacyHomes(cfg)...)
	if len(legacy) == 0 {
		checks = append(checks, check{name: "legacy state", result: "no clawdbot-era state found", ok: true})
	}
	for _, l := range legacy {
		checks = append(checks, check{name: "legacy state", result: "found " + l.Path + "; openclawd does not read it",
			fix: "sudo openclawd migrate-legacy --from " + l.Path})
	}
	checks = append(checks, backupChecks(cfg)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st, err := localapi.NewClient(cfg.Control.Socket).Status(ctx); err != nil {
		checks = append(checks, check{name: "daemon", result: err.Error(), fix: "sudo systemctl start openclawd"})
	} else {
		c := check{name: "daemon", result: fmt.Sprintf("running (pid %d); gateway %s", st.PID, st.Gateway.State), ok: st.Healthy}
		if !st.Healthy && len(st.NextSteps) > 0 {
			c.fix = st.NextSteps[0]
		}
		checks = append(checks, c)
	}
	bad := 0
	for _, c := range checks {
		mark := "ok  "
		if !c.ok {
			mark, bad = "FAIL", bad+1
		}
		fmt.Fprintf(stdout, "%s %-13s %s\n", mark, c.name, c.result)
		if c.fix != "" {
			fmt.Fprintf(stdout, "     %-13s → %s\n", "", c.fix)
		}
	}
	if bad > 0 {
		return ExitFailure
	}
	return ExitOK
}

func runtimeCheck(cfg *config.Config) check {
	if len(cfg.Gateway.Command) > 0 {
		return check{name: "runtime", result: "gateway.command is set: openclawd provisions nothing", ok: true}
	}
	o := daemon.RuntimeOptions(cfg, nil)
	n, nodeOK := node.Find(o.Node)
	oc, ocOK := openclaw.Find(o.Openclaw)
	cur, _ := provision.ReadCurrent(o.Root)
	switch {
	case nodeOK && ocOK:
		return check{name: "runtime", ok: true, result: fmt.Sprintf("Node %s and openclaw %s installed (current: %s, %s)",
			n.Version, oc.Version, cur.Node, cur.Openclaw)}
	default:
		return check{name: "runtime", ok: true, result: fmt.Sprintf("Node %s / openclaw %s not installed yet under %s; `openclawd run` installs them",
			o.Node.Version, o.Openclaw.Version, filepath.Clean(o.Root))}
	}
}
