package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/openclawd/openclawd/localapi"
)

// alertCmd is `openclawd alert test`: a message to every channel now,
// and which worked.
func alertCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "usage: openclawd alert test   (send a test message to every alert channel and the heartbeat)")
		return ExitUsage
	}
	fs := newFlags("alert test", stderr)
	sock := socketFlags(fs)
	if rc := parse(fs, args[1:]); rc >= 0 {
		return rc
	}
	path, err := sock.path(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitConfig
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, err := localapi.NewClient(path).TestAlerts(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	if len(rs) == 0 {
		fmt.Fprintln(stdout, "no alert channel is configured: add alerts.notify (and alerts.heartbeat) to the config, then `sudo openclawd reload`")
		return ExitFailure
	}
	rc := ExitOK
	for _, r := range rs {
		if r.OK {
			fmt.Fprintf(stdout, "ok      %s (%s)\n", r.Name, r.Service)
			continue
		}
		rc = ExitFailure
		fmt.Fprintf(stdout, "FAILED  %s (%s): %s\n", r.Name, r.Service, r.Error)
	}
	return rc
}
