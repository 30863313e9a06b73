package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/internal/privdrop"
	"github.com/openclawd/openclawd/runtime/openclaw"
)

// costSafe offers the cost-safe profile: on by default for a new install
// (no openclaw.json yet), shown before it is applied, and applied as the
// service user, the owner of the state dir.
func (o *setup) costSafe(cfg *config.Config) error {
	mode := o.costMode
	gw := cfg.Layout().GatewayConfig()
	_, err := os.Lstat(gw) // existence only: root reads nothing there
	newInstall := os.IsNotExist(err)
	switch mode {
	case "no":
		return nil
	case "auto":
		if !newInstall {
			return nil // an existing bot's settings are the owner's
		}
	}
	fmt.Fprintf(o.out, "cost-safe profile (existing OpenClaw keys, set in %s; --cost-safe=no skips it):\n%s", gw, openclaw.ShowCostSafe())
	if o.tty && !o.nonInteractive {
		ans, err := o.ask("Apply the cost-safe profile? (yes/no)", "yes")
		if errors.Is(err, io.EOF) {
			ans = "yes" // input ended: the default, as for an empty line
		} else if err != nil {
			return err
		}
		if a := strings.ToLower(ans); a != "yes" && a != "y" {
			fmt.Fprintln(o.out, "cost-safe profile: not applied")
			return nil
		}
	}
	argv := []string{"cost-profile", "--config", cfg.Path}
	as := *cfg
	if o.user != "" {
		as.User = o.user
	}
	if rc, done := asServiceUser(&as, argv, o.errw, privdrop.Options{Stdout: o.out}); done {
		if rc != ExitOK {
			return fmt.Errorf("applying the cost-safe profile failed (exit %d)", rc)
		}
		return nil
	}
	return applyCostSafe(cfg, o.out)
}

// costProfileCmd is setup's step as the service user (not listed).
func costProfileCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("cost-profile", stderr)
	cfgPath := fs.String("config", config.DefaultPath, "config file")
	if rc := parse(fs, args); rc >= 0 {
		return rc
	}
	cfg, rc := loadConfig(*cfgPath, stderr)
	if cfg == nil {
		return rc
	}
	if os.Geteuid() == 0 && cfg.User != "root" {
		fmt.Fprintln(stderr, "openclawd: cost-profile runs as the service user; use `sudo openclawd setup --cost-safe=yes`")
		return ExitFailure
	}
	if err := applyCostSafe(cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

func applyCostSafe(cfg *config.Config, out io.Writer) error {
	if err := cfg.Layout().Ensure(); err != nil {
		return err
	}
	changed, err := openclaw.ApplyCostSafe(cfg.Layout().GatewayConfig())
	if err != nil {
		return err
	}
	if len(changed) == 0 {
		fmt.Fprintln(out, "cost-safe profile: already set")
		return nil
	}
	fmt.Fprintf(out, "cost-safe profile: set %s\n", strings.Join(changed, ", "))
	return nil
}
