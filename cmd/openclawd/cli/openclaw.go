package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
	"github.com/openclawd/openclawd/internal/privdrop"
)

// openclawCmd runs the provisioned openclaw CLI against openclawd's
// gateway, as the service user (config key user), with the gateway's
// state dir, port and token (in the environment, never argv):
//
//	openclawd openclaw [--config PATH] devices approve <requestId>
//
// Every other argument goes to openclaw unchanged.
func openclawCmd(args []string, stdout, stderr io.Writer) int {
	cfgPath := config.DefaultPath
	switch {
	case len(args) >= 2 && args[0] == "--config":
		cfgPath, args = args[1], args[2:]
	case len(args) >= 1 && strings.HasPrefix(args[0], "--config="):
		cfgPath, args = strings.TrimPrefix(args[0], "--config="), args[1:]
	}
	cfg, rc := loadConfig(cfgPath, stderr)
	if cfg == nil {
		return rc
	}
	if rc, done := asServiceUser(cfg, append([]string{"openclaw", "--config", cfg.Path}, args...), stderr, privdrop.Options{Stdout: stdout}); done {
		return rc
	}
	cmd, err := daemon.OpenclawCommand(cfg, args)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// Ctrl-C reaches openclaw through the terminal's process group; a
	// SIGTERM or SIGHUP sent to openclawd alone is passed on.
	rc, err = privdrop.Supervise(cmd, syscall.SIGTERM, syscall.SIGHUP)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: running openclaw: %v\n", err)
		return ExitFailure
	}
	return rc
}
