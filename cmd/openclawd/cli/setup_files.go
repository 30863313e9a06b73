package cli

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/openclawd/openclawd/config"
	svcuser "github.com/openclawd/openclawd/internal/account"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/statedir"
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
// replaced in place, new names appended, comments kept. As root (acct is
// the service user) it ends up root:<service group> 0640, which the
// service reads but cannot change; otherwise it keeps its owner, 0600. It
// never prints a value.
func (o *setup) writeEnv(path string, vals map[string]string, acct account) (changed bool, err error) {
	if err := rootOnlyDir(path, acct); err != nil {
		return false, err
	}
	old, err := config.ReadEnvFileBytes(path, acct.uid, acct.gid)
	if errors.Is(err, os.ErrNotExist) {
		old, err = []byte(envFileHeader), nil
	}
	if err != nil {
		return false, invalid("%v", err)
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
	uid, gid, mode := -1, -1, os.FileMode(0o600)
	if acct.gid >= 0 {
		uid, gid, mode = 0, acct.gid, 0o640
	}
	fi, statErr := os.Lstat(path)
	if len(keys) == 0 && statErr == nil && envOwnedRight(fi, acct) {
		fmt.Fprintf(o.out, "%s: unchanged\n", path)
		return false, nil
	}
	if err := fsutil.WriteFileAtomicOwned(path, out, mode, uid, gid); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	switch {
	case len(keys) > 0:
		fmt.Fprintf(o.out, "%s: set %s\n", path, strings.Join(keys, ", "))
	case statErr != nil:
		fmt.Fprintf(o.out, "%s: created (%04o) for API keys\n", path, mode)
	default:
		fmt.Fprintf(o.out, "%s: unchanged; made it %04o, readable by the service only\n", path, mode)
	}
	return true, nil
}

// envOwnedRight: the service user's 0600, or root's 0640 in its group.
func envOwnedRight(fi os.FileInfo, acct account) bool {
	uid, gid := owner(fi)
	m := fi.Mode()
	if !m.IsRegular() {
		return false
	}
	if acct.gid < 0 {
		return m.Perm() == 0o600
	}
	return (uid == acct.uid && m.Perm() == 0o600) || (uid == 0 && gid == acct.gid && m.Perm() == 0o640)
}

// rootOnlyDir refuses, as root, an env file in a directory others may
// write: a file written there by rename could be swapped for a link.
func rootOnlyDir(path string, acct account) error {
	if os.Geteuid() != 0 {
		return nil
	}
	dir := filepath.Dir(path)
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("the env file's directory: %w", err)
	}
	if uid, _ := owner(fi); !fi.IsDir() || uid != 0 || fi.Mode().Perm()&0o022 != 0 {
		return invalid("gateway.env_file %s is in %s, which is not a directory only root may write (owner uid %d, mode %04o); keep it in /etc/openclawd", path, dir, uid, fi.Mode().Perm())
	}
	return nil
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
// for it, the service user's. As root it goes through descriptors
// (statedir.CreateSecretAsRoot): every file there is the service user's
// to swap. It reports whether the token was created.
func (o *setup) ensureToken(cfg *config.Config, acct account) (bool, error) {
	var env map[string]string
	if cfg.Gateway.EnvFile != "" {
		var err error
		if env, err = config.ReadEnvFileOwned(cfg.Gateway.EnvFile, acct.uid, acct.gid); err != nil && !errors.Is(err, os.ErrNotExist) {
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
	var created bool
	if acct.uid >= 0 {
		a := svcuser.Account{Name: o.user, UID: acct.uid, GID: acct.gid}
		if a.Name == "" {
			a.Name = cfg.User
		}
		if err := statedir.PrepareAsRoot(cfg.StateDir, a); err != nil {
			return false, err
		}
		var err error
		created, err = statedir.CreateSecretAsRoot(cfg.StateDir, filepath.Base(cfg.TokenFile()), a, config.NewToken)
		if err != nil {
			return false, err
		}
	} else {
		_, statErr := os.Lstat(cfg.TokenFile())
		if err := cfg.Layout().Ensure(); err != nil {
			return false, err
		}
		if _, _, err := cfg.GatewayToken(env); err != nil {
			return false, err
		}
		created = errors.Is(statErr, os.ErrNotExist)
	}
	if created {
		fmt.Fprintf(o.out, "gateway token: generated in %s\n", cfg.TokenFile())
		return true, nil
	}
	fmt.Fprintf(o.out, "gateway token: %s (unchanged)\n", cfg.TokenFile())
	return false, nil
}
