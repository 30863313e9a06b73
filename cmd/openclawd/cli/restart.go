package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/openclawd/openclawd/localapi"
	"github.com/openclawd/openclawd/localapi/apitype"
)

func restartCmd(args []string, stdout, stderr io.Writer) int {
	return control("restart", args, stdout, stderr, (*localapi.Client).Restart, "%s; follow it with `openclawd status`\n")
}

// reloadCmd re-reads the config in the running openclawd, as SIGHUP does,
// but says whether it took: an invalid file is named with its line.
func reloadCmd(args []string, stdout, stderr io.Writer) int {
	return control("reload", args, stdout, stderr, (*localapi.Client).Reload, "%s\n")
}

// control runs one POST of the control API and prints its message.
func control(name string, args []string, stdout, stderr io.Writer,
	call func(*localapi.Client, context.Context) (apitype.RestartResponse, error), format string) int {
	fs := newFlags(name, stderr)
	sock := socketFlags(fs)
	if rc := parse(fs, args); rc >= 0 {
		return rc
	}
	path, err := sock.path(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitConfig
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := call(localapi.NewClient(path), ctx)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, format, r.Message)
	return ExitOK
}
