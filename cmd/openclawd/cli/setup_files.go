package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/packaging"
)

// rewrite replaces path atomically, keeping its mode and owner (the .deb
// ships the config root:openclawd 0640, and the service must still read it).
func rewrite(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	uid, gid := -1, -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid, gid = int(st.Uid), int(st.Gid)
	}
	return fsutil.WriteFileAtomicOwned(path, data, fi.Mode().Perm(), uid, gid)
}

// owner returns path's uid and gid.
func owner(fi os.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// writeEnv merges vals into the env file at path: existing lines are
// replaced in place, new names appended, comments kept. The file ends up
// 0600 and owned by the service user, which reads it. It never prints a
// value.
func (o *setup) writeEnv(path string, vals map[string]string, acct account) (changed bool, err error) {
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		old, err = []byte(envFileHeader), nil
	}
	if err != nil {
		return false, fmt.Errorf("reading env file: %w", err)
	}
	oldVals, err := config.ParseEnv(path, old)
	if err != nil {
		return false, invalid("%v (fix it by hand first)", err)
	}
	out, keys := mergeEnv(old, oldVals, vals)
	want := maps.Clone(oldVals)
	maps.Copy(want, vals)
	if got, err := config.ParseEnv(path, out); err != nil || !maps.Equal(got, want) {
		return false, fmt.Errorf("internal error: the merged env file would not read back as written (%v)", err)
	}
	if acct.uid < 0 && acct.gid < 0 { // not root, or no service user: keep the owner
		if fi, err := os.Stat(path); err == nil {
			acct.uid, acct.gid = owner(fi)
		}
	}
	if _, err := os.Stat(path); len(keys) > 0 || errors.Is(err, os.ErrNotExist) {
		if err := fsutil.WriteFileAtomicOwned(path, out, 0o600, acct.uid, acct.gid); err != nil {
			return false, fmt.Errorf("writing %s: %w", path, err)
		}
		if len(keys) > 0 {
			fmt.Fprintf(o.out, "%s: set %s\n", path, strings.Join(keys, ", "))
		} else {
			fmt.Fprintf(o.out, "%s: created (0600) for API keys\n", path)
		}
		return true, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	fixed := false
	if fi.Mode().Perm() != 0o600 {
		if err := os.Chmod(path, 0o600); err != nil {
			return false, err
		}
		fixed = true
	}
	if uid, gid := owner(fi); (acct.uid >= 0 && acct.uid != uid) || (acct.gid >= 0 && acct.gid != gid) {
		if err := acct.chown(path); err != nil {
			return false, err
		}
		fixed = true
	}
	if fixed {
		fmt.Fprintf(o.out, "%s: unchanged; made it 0600 and the service user's\n", path)
		return true, nil
	}
	fmt.Fprintf(o.out, "%s: unchanged\n", path)
	return false, nil
}

var envLineRE = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=`)

// mergeEnv returns the env file with vals set, and the names that changed.
func mergeEnv(old []byte, oldVals, vals map[string]string) ([]byte, []string) {
	var changed []string
	lines := strings.SplitAfter(string(old), "\n")
	seen := map[string]bool{}
	for i, l := range lines {
		m := envLineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		v, ok := vals[m[1]]
		if !ok {
			continue
		}
		seen[m[1]] = true
		if oldVals[m[1]] != v {
			lines[i] = m[1] + "=" + envQuote(v) + "\n"
			if !slices.Contains(changed, m[1]) {
				changed = append(changed, m[1])
			}
		}
	}
	out := strings.Join(lines, "")
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if !seen[k] {
			out += k + "=" + envQuote(vals[k]) + "\n"
			changed = append(changed, k)
		}
	}
	return []byte(out), changed
}

var plainEnvValue = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./~^-]+$`)

// envQuote writes v so that config.ParseEnv reads it back unchanged.
func envQuote(v string) string {
	if plainEnvValue.MatchString(v) {
		return v
	}
	return strconv.Quote(v)
}

// ensureToken makes sure the gateway token exists where the daemon looks
// for it, and that the service user can read it. It reports whether it
// was created.
func (o *setup) ensureToken(cfg *config.Config, acct account) (bool, error) {
	var env map[string]string
	if cfg.Gateway.EnvFile != "" {
		var err error
		if env, err = config.ReadEnvFile(cfg.Gateway.EnvFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, invalid("%v", err)
		}
	}
	if _, ok := env["OPENCLAW_GATEWAY_TOKEN"]; ok {
		if _, _, err := cfg.GatewayToken(env); err != nil {
			return false, invalid("%v", err)
		}
		fmt.Fprintf(o.out, "gateway token: set in %s (unchanged)\n", cfg.Gateway.EnvFile)
		return false, nil
	}
	// The daemon, as the service user, must be able to chmod these.
	for _, d := range []string{cfg.StateDir, cfg.SecretsDir()} {
		if err := ensureOwnedDir(d, 0o700, acct); err != nil {
			return false, err
		}
	}
	_, statErr := os.Stat(cfg.TokenFile())
	if _, _, err := cfg.GatewayToken(env); err != nil {
		return false, err
	}
	for _, p := range []string{cfg.SecretsDir(), cfg.TokenFile()} {
		fi, err := os.Stat(p)
		if err != nil {
			return false, err
		}
		if uid, gid := owner(fi); (acct.uid >= 0 && acct.uid != uid) || (acct.gid >= 0 && acct.gid != gid) {
			if err := acct.chown(p); err != nil {
				return false, fmt.Errorf("handing %s to the service user: %w", p, err)
			}
		}
	}
	if errors.Is(statErr, os.ErrNotExist) {
		fmt.Fprintf(o.out, "gateway token: generated in %s\n", cfg.TokenFile())
		return true, nil
	}
	fmt.Fprintf(o.out, "gateway token: %s (unchanged)\n", cfg.TokenFile())
	return false, nil
}

// errNoServiceManager: neither systemd nor launchd runs this host.
var errNoServiceManager = errors.New("no service manager")

// startService restarts openclawd through the host's service manager
// without waiting for it: setup polls the control socket and says how far
// the start is (a first start installs the runtime for a minute or two).
func startService(ctx context.Context, cfg *config.Config) error {
	switch runtime.GOOS {
	case "linux":
		if _, err := os.Stat(host.systemdDir); err != nil {
			return errNoServiceManager
		}
		// After a bad config, systemd may have given up (StartLimitBurst).
		_ = runTool("systemctl", "reset-failed", packaging.SystemdUnitName)
		if err := runTool("systemctl", "restart", "--no-block", packaging.SystemdUnitName); err != nil {
			return fmt.Errorf("%w\n(is the service installed? `sudo openclawd service install`)", err)
		}
		return nil
	case "darwin":
		label, plist := packaging.LaunchdLabel, "/Library/LaunchDaemons/"+packaging.LaunchdLabel+".plist"
		if bin, err := binary(); err == nil && isHomebrew(bin) {
			label, plist = "homebrew.mxcl.openclawd", "/Library/LaunchDaemons/homebrew.mxcl.openclawd.plist"
		}
		if runTool("launchctl", "kickstart", "-k", "system/"+label) == nil {
			return nil
		}
		if _, err := os.Stat(plist); err != nil { // not loaded, and nothing to load
			return fmt.Errorf("%s is not installed: `sudo openclawd service install` (or `sudo brew services start openclawd`)", plist)
		}
		return runTool("launchctl", "bootstrap", "system", plist)
	}
	return errNoServiceManager
}
