package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/internal/logpipe"
	"github.com/openclawd/openclawd/internal/privdrop"
)

func logsCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("logs", stderr)
	follow := fs.Bool("f", false, "follow: print new lines as they come")
	n := fs.Int("n", 50, "how many recent lines")
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	if rc, done := asServiceUser(cfg, append([]string{"logs"}, withConfigArg(args, cfg)...), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	file := cfg.Layout().LogFile()
	lines, err := logpipe.Tail(file, *n)
	switch {
	case errors.Is(err, os.ErrPermission):
		fmt.Fprintf(stderr, "openclawd: cannot read %s: permission denied; run with sudo\n", file)
		return ExitFailure
	case err != nil:
		fmt.Fprintf(stderr, "openclawd: reading logs: %v\n", err)
		return ExitFailure
	case len(lines) == 0 && !*follow:
		fmt.Fprintf(stderr, "openclawd: no log lines in %s yet (has openclawd run with this config?)\n", file)
		return ExitOK
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if !*follow {
		return ExitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := logpipe.Follow(ctx, file, stdout, 250*time.Millisecond); err != nil {
		fmt.Fprintf(stderr, "openclawd: following logs: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}
