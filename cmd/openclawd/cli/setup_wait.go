package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/service"
)

// startAndWait restarts openclawd through the service manager (unless
// nothing changed and it is healthy already) and waits for health.
func (o *setup) startAndWait(ctx context.Context, cfg *config.Config, changed bool) int {
	client := localapi.NewClient(cfg.Control.Socket)
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	before, err := client.Status(qctx)
	cancel()
	if err == nil && !changed && before.Healthy {
		fmt.Fprintln(o.out, "openclawd is running and healthy, and nothing changed: not restarting it")
		return ExitOK
	}
	oldPID := 0
	if err == nil {
		oldPID = before.PID
	}
	if oldPID != 0 {
		fmt.Fprintln(o.out, "restarting openclawd")
	} else {
		fmt.Fprintln(o.out, "starting openclawd (a first start installs Node.js and openclaw: a minute or two)")
	}
	switch err := o.start(ctx, cfg); {
	case errors.Is(err, service.ErrNoServiceManager):
		fmt.Fprintf(o.out, "no service manager runs this host (no %s), so setup cannot start openclawd.\nRun it in the foreground, or under this host's own supervisor:\n  sudo openclawd run --config %s\n", service.Host.SystemdDir, o.config)
		return ExitOK
	case err != nil:
		fmt.Fprintf(o.errw, "openclawd: %v\n", err)
		return ExitFailure
	}
	return o.waitHealthy(ctx, client, oldPID)
}

// waitHealthy polls the control socket until a new openclawd (not oldPID)
// says healthy, its gateway fails for good, or --wait runs out. It prints
// each change of state.
func (o *setup) waitHealthy(ctx context.Context, client *localapi.Client, oldPID int) int {
	t0 := time.Now()
	deadline := t0.Add(o.wait)
	var (
		st    apitype.Status
		err   error
		last  string
		watch crashWatch
	)
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err = client.Status(qctx)
		cancel()
		fresh := err == nil && st.PID != oldPID
		line := progress(st, err, fresh)
		if line != last {
			fmt.Fprintf(o.out, "  [%s] %s\n", time.Since(t0).Round(time.Second), line)
			last = line
		}
		if fresh && st.Healthy {
			fmt.Fprintf(o.out, "openclawd is running; the gateway is healthy (after %s)\n", time.Since(t0).Round(time.Second))
			return ExitOK
		}
		if fresh && st.Gateway.State == apitype.GatewayFailed {
			break // waiting longer changes nothing
		}
		if u, ok := unitProbe(ctx); ok {
			if crash, why := watch.observe(u); crash {
				return o.crashLoop(ctx, why)
			}
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(o.poll, time.Until(deadline))):
		}
	}
	if fresh := err == nil && st.PID != oldPID; !fresh {
		fmt.Fprintf(o.errw, "openclawd: openclawd did not come up within %s: %v\n", o.wait, orStale(err))
		fmt.Fprintln(o.out, "See why: `sudo systemctl status openclawd` and `sudo journalctl -u openclawd -n 50` (macOS: `openclawd logs -n 50`).")
		return ExitFailure
	}
	fmt.Fprintf(o.errw, "openclawd: the gateway is not healthy after %s\n", time.Since(t0).Round(time.Second))
	printStatus(o.out, st, palette{})
	return ExitFailure
}

// crashLoop says at once that the service crash-loops, with the unit's
// own last lines and the fix, rather than waiting out --wait.
func (o *setup) crashLoop(ctx context.Context, why string) int {
	fmt.Fprintf(o.errw, "openclawd: %s; not waiting any longer\n", why)
	logs, fix := unitLogs(ctx)
	fmt.Fprintln(o.out, "openclawd's last lines:")
	for line := range strings.Lines(logs) {
		fmt.Fprintf(o.out, "  | %s", line)
	}
	fmt.Fprintf(o.out, "\nFix: %s\n", fix)
	return ExitFailure
}

func orStale(err error) error {
	if err == nil {
		return errors.New("the previous openclawd still answers")
	}
	return err
}

// progress is one line about where the start is.
func progress(st apitype.Status, err error, fresh bool) string {
	switch {
	case errors.Is(err, localapi.ErrNotRunning):
		return "waiting for openclawd to start"
	case err != nil:
		return err.Error()
	case !fresh:
		return "waiting for the previous openclawd to stop"
	}
	s := fmt.Sprintf("openclawd %s; gateway %s", st.State, st.Gateway.State)
	if st.Gateway.Reason != "" {
		s += ": " + st.Gateway.Reason
	}
	return s
}

// printNext says where the Control UI is and how to log in and pair.
func (o *setup) printNext(cfg *config.Config) {
	cfgFlag := ""
	if o.config != config.DefaultPath {
		cfgFlag = " --config " + o.config
	}
	fmt.Fprintln(o.out, "\nThe Control UI:")
	if origins := cfg.TLS.Origins(); len(origins) > 0 {
		for _, u := range origins {
			fmt.Fprintf(o.out, "  %s/\n", u)
		}
	} else {
		p := cfg.Gateway.Port
		fmt.Fprintf(o.out, "  http://127.0.0.1:%d/ on this host; from elsewhere, through SSH: ssh -N -L %d:127.0.0.1:%d <this host>\n", p, p, p)
	}
	fmt.Fprintf(o.out, "Log in with the gateway token: sudo openclawd token%s\n", cfgFlag)
	fmt.Fprintln(o.out, "A browser elsewhere must be paired once: open a single-use link (with a QR code) from")
	fmt.Fprintf(o.out, "  sudo openclawd pair%s\n", cfgFlag)
	fmt.Fprintln(o.out, "or list its request and approve it by id:")
	fmt.Fprintf(o.out, "  sudo openclawd devices%s\n", cfgFlag)
	fmt.Fprintf(o.out, "  sudo openclawd devices approve <requestId>%s\n", cfgFlag)
	o.printBackups(cfg, cfgFlag)
}

// printBackups says what backs the bot up, and how to get copies off the
// host with a key that stays off it.
func (o *setup) printBackups(cfg *config.Config, cfgFlag string) {
	b := cfg.Backup
	switch {
	case b.Every <= 0:
		fmt.Fprintf(o.out, "Backups: scheduled backups are off (backup.every); make one with `sudo openclawd backup%s`.\n", cfgFlag)
	default:
		fmt.Fprintf(o.out, "Backups: every %s into %s (`sudo openclawd backup%s` makes one now).\n", b.Every, cfg.Layout().Backups(), cfgFlag)
	}
	if len(b.Targets) == 0 {
		fmt.Fprintln(o.out, "  They are on this disk only. For copies elsewhere, encrypted before they leave:")
		fmt.Fprintln(o.out, "  1. `age-keygen -o backup-key.txt` (or `openclawd backup keygen > backup-key.txt`) on your own computer; keep that file in")
		fmt.Fprintln(o.out, "     your password manager: it is the only way to read the copies, and never goes on this host.")
		fmt.Fprintf(o.out, "  2. Put its public key in backup.recipients and a target in backup.targets (%s).\n", o.config)
	}
}
