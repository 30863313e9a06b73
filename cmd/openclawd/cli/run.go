package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/openclawd/openclawd/daemon"
)

func runCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := daemon.Run(ctx, cfg, stderr); err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}
