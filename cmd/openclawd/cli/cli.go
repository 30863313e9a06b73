// Package cli is the openclawd command line: one file per subcommand, each
// a func returning an exit code. Only main calls os.Exit.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
)

// Exit codes. ExitConfig matches the gateway's and the unit's
// RestartPreventExitStatus: respawning cannot fix a bad config.
const (
	ExitOK         = 0
	ExitFailure    = 1
	ExitUsage      = 2
	ExitNotRunning = 3 // status: openclawd is not running (LSB)
	ExitUnknown    = 4 // status: could not tell (LSB)
	ExitConfig     = 78
)

type command struct {
	name  string
	usage string
	run   func(args []string, stdout, stderr io.Writer) int
}

var commands []command

func init() {
	commands = []command{
		{"run", "run openclawd and the gateway in the foreground (what the service runs)", runCmd},
		{"status", "say whether all is well; exit 0 healthy, 1 unhealthy, 3 not running", statusCmd},
		{"restart", "restart the gateway through the running openclawd", restartCmd},
		{"reload", "re-read the config in the running openclawd (as SIGHUP), saying whether it took", reloadCmd},
		{"logs", "print openclawd's log (-f to follow, -n N lines)", logsCmd},
		{"validate", "check a config file without starting anything", validateCmd},
		{"runtime", "install|list|prune the Node and openclaw runtime", runtimeCmd},
		{"migrate-legacy", "copy clawdbot-era gateway state in (the original is kept)", migrateLegacyCmd},
		{"token", "print the gateway token (for the Control UI and clients)", tokenCmd},
		{"doctor", "check config, runtime, legacy state, git and the daemon; change nothing", doctorCmd},
		{"backup", "make a verified backup now and copy it offsite; list|verify|keygen", backupCmd},
		{"restore", "put a backup back (ARCHIVE, or latest [--from NAME]), with a health gate", restoreCmd},
		{"upgrade", "move to the pinned (or --openclaw/--node) runtime: backup, preflight, health gate, automatic rollback", upgradeCmd},
		{"rollback", "return to the runtime before the last upgrade, with its state, under the same gate", rollbackCmd},
		{"alert", "test: send a test message to every alert channel, and say which worked", alertCmd},
		{"spend", "show today's and this month's model spend; resume: lift the daily cap's pause", spendCmd},
		{"setup", "configure HTTPS and API keys, then start openclawd and wait until it is healthy", setupCmd},
		{"pair", "print a single-use link (and QR code) that pairs one browser over HTTPS", pairCmd},
		{"devices", "list pending and paired devices; approve|reject <requestId>, revoke <deviceId>", devicesCmd},
		{"openclaw", "run the openclaw CLI against this gateway (e.g. `devices approve ID`), as its user", openclawCmd},
		{"service", "install|uninstall|start|stop|status the system service (tarball installs)", serviceCmd},
		{"version", "print the version", versionCmd},
	}
}

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	if args[0] == "upgrade-step" { // the daemon's own, not listed
		return upgradeStepCmd(args[1:], stdout, stderr)
	}
	if args[0] == "cost-profile" { // setup's own, not listed
		return costProfileCmd(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "openclawd: unknown command %q\n\n", args[0])
	usage(stderr)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "openclawd %s: runs an OpenClaw gateway as a self-healing service.\n\nUsage: openclawd <command> [flags]\n\nCommands:\n", daemon.Version)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.usage)
	}
	fmt.Fprintf(w, "\nRun `openclawd <command> -h` for its flags.\n")
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("openclawd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags; it returns -1 to go on, or an exit code.
func parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return ExitUsage
	}
	return -1
}

// withConfig adds --config to fs (after the caller's own flags), parses
// args and loads the config. A nil config means the command ends with rc:
// -h, a usage error, or an invalid config (every error printed).
func withConfig(fs *flag.FlagSet, args []string, stderr io.Writer) (*config.Config, int) {
	path := fs.String("config", config.DefaultPath, "config file")
	if rc := parse(fs, args); rc >= 0 {
		return nil, rc
	}
	return loadConfig(*path, stderr)
}

// loadConfig loads and validates a config, printing every error.
func loadConfig(path string, stderr io.Writer) (*config.Config, int) {
	c, err := config.Load(path)
	if err == nil {
		err = daemon.Check(c)
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: invalid configuration:\n")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "  %s\n", line)
		}
		return nil, ExitConfig
	}
	return c, ExitOK
}

func versionCmd(args []string, stdout, stderr io.Writer) int {
	if rc := parse(newFlags("version", stderr), args); rc >= 0 {
		return rc
	}
	fmt.Fprintf(stdout, "openclawd %s\n", daemon.Version)
	return ExitOK
}

func validateCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", stderr)
	path := fs.String("config", config.DefaultPath, "config file")
	if rc := parse(fs, args); rc >= 0 {
		return rc
	}
	c, rc := loadConfig(*path, stderr)
	if c == nil {
		return rc
	}
	if c.Gateway.EnvFile != "" {
		a := lookupAccount(c.User) // the service user's, as the daemon will read it
		if a.uid < 0 {
			a = account{os.Geteuid(), os.Getegid()}
		}
		if _, err := config.ReadEnvFileOwned(c.Gateway.EnvFile, a.uid, a.gid); err != nil {
			fmt.Fprintf(stderr, "openclawd: %v\n", err)
			return ExitConfig
		}
	}
	fmt.Fprintf(stdout, "%s: valid\n", *path)
	return ExitOK
}
