package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/openclawd/openclawd/localapi"
)

func restartCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("restart", stderr)
	sock := socketFlags(fs)
	if rc := parse(fs, args); rc >= 0 {
		return rc
	}
	path, err := sock.path(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitConfig
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := localapi.NewClient(path).Restart(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "%s; follow it with `openclawd status`\n", r.Message)
	return ExitOK
}
