package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// MaxEnvFileBytes bounds what ReadEnvFile reads: an env file holds a few
// keys, and the daemon reads it before every gateway start.
const MaxEnvFileBytes = 1 << 20

// ReadEnvFile is ReadEnvFileOwned when the service user is not known: the
// file must then be root's or the caller's own, and 0600 or 0400.
func ReadEnvFile(path string) (map[string]string, error) {
	return ReadEnvFileOwned(path, -1, -1)
}

// ReadEnvFileOwned parses a KEY=VALUE secrets file (see ParseEnv) that
// sets the gateway's environment. uid and gid are the service user's, or
// -1 when unknown.
//
// The service user runs an AI agent with tools, so the file is checked as
// hostile input: it is opened without following a symlink (which the
// service user could point at any file root can read) and without
// blocking on a FIFO, and the checks below apply to the opened file
// itself, which is then read, so it cannot be swapped in between. It must
// be a regular file owned by root, the service user or the caller, mode
// 0600 or 0400, or 0640 or 0440 when root owns it and its group is gid.
// Every refusal names the file, what is wrong and the command that fixes it.
func ReadEnvFileOwned(path string, uid, gid int) (map[string]string, error) {
	b, err := ReadEnvFileBytes(path, uid, gid)
	if err != nil {
		return nil, err
	}
	return ParseEnv(path, b)
}

// ReadEnvFileBytes is the env file's content, read under ReadEnvFileOwned's
// rules, for a caller that rewrites it (setup).
func ReadEnvFileBytes(path string, uid, gid int) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, syscall.ELOOP):
		return nil, fmt.Errorf("env file %s is a symbolic link, which openclawd does not follow: "+
			"put the file itself there, e.g. cp --remove-destination \"$(readlink -f %s)\" %s, then check its owner and mode: %w",
			path, path, path, err)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("env file %s cannot be read by openclawd (uid %d): run %s: %w",
			path, os.Geteuid(), envFileFix(path, uid, gid, -1), err)
	case err != nil:
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading env file %s: %w", path, err)
	}
	if err := checkEnvFile(path, fi, uid, gid); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxEnvFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading env file %s: %w", path, err)
	}
	if len(b) > MaxEnvFileBytes {
		return nil, fmt.Errorf("env file %s is over %d MiB; it should hold a few KEY=VALUE lines", path, MaxEnvFileBytes>>20)
	}
	return b, nil
}

// checkEnvFile applies ReadEnvFileOwned's rules to the opened file's stat.
func checkEnvFile(path string, fi fs.FileInfo, uid, gid int) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("env file %s is %s, not a regular file: replace it with a file of KEY=VALUE lines, then run %s",
			path, fileKind(fi.Mode()), envFileFix(path, uid, gid, -1))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("env file %s: cannot read its owner", path)
	}
	owner, group := int(st.Uid), int(st.Gid)
	perm := fi.Mode().Perm()
	switch {
	case owner != 0 && owner != uid && owner != os.Geteuid():
		return fmt.Errorf("env file %s is owned by %s, not root or the service user; whoever owns it sets the gateway's environment: run %s",
			path, uidName(owner), envFileFix(path, uid, gid, -1))
	case perm&0o022 != 0:
		return fmt.Errorf("env file %s is mode %04o, writable by %s; it sets the gateway's environment: run %s",
			path, perm, others(perm&0o020 != 0, perm&0o002 != 0, group), envFileFix(path, uid, gid, owner))
	case perm&0o004 != 0:
		return fmt.Errorf("env file %s is mode %04o, readable by others; it holds secrets: run %s",
			path, perm, envFileFix(path, uid, gid, owner))
	case perm&0o070 != 0 && (owner != 0 || gid < 0 || group != gid || perm&0o070 != 0o040):
		return fmt.Errorf("env file %s is mode %04o with group %s, which may read it only when root owns the file and the group is the service user's; it holds secrets: run %s",
			path, perm, gidName(group), envFileFix(path, uid, gid, owner))
	case perm&0o101 != 0 || perm&0o400 == 0:
		return fmt.Errorf("env file %s is mode %04o; use 0600 (or 0640 with group %s, owned by root): run %s",
			path, perm, gidName(gid), envFileFix(path, uid, gid, owner))
	}
	return nil
}

// envFileFix is the command that makes path acceptable. owner is the
// file's owner when that is acceptable, or -1. Root with the service group
// (0640) works whether openclawd runs as root or drops to the service
// user; without a known group, 0600 for whoever reads it.
func envFileFix(path string, uid, gid, owner int) string {
	q := shellQuote(path)
	switch {
	case owner > 0: // the service user's or the caller's own: keep it theirs
		return "chmod 600 " + q
	case gid >= 0:
		return fmt.Sprintf("chown root:%s %s && chmod 640 %s", gidName(gid), q, q)
	case owner == 0:
		return "chmod 600 " + q
	default: // a wrong or unknown owner: hand it to the reader
		return fmt.Sprintf("chown %s %s && chmod 600 %s", loginName(os.Geteuid()), q, q)
	}
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

func others(group, world bool, gid int) string {
	switch {
	case group && world:
		return "group " + gidName(gid) + " and others"
	case group:
		return "group " + gidName(gid)
	}
	return "others"
}

func uidName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

func loginName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

func gidName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}

// shellQuote quotes path for the fix commands when it needs it.
func shellQuote(path string) string {
	if strings.Trim(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+") == "" {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}

// ParseEnv parses env-file content; errors name path and line.
func ParseEnv(path string, b []byte) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q is not KEY=VALUE", path, n, firstWord(line))
		}
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("%s:%d: %q is not a valid variable name", path, n, k)
		}
		if why := reservedReason(k); why != "" && k != "OPENCLAW_GATEWAY_TOKEN" {
			return nil, fmt.Errorf("%s:%d: %s is set by openclawd only: %s; remove it", path, n, k, why)
		}
		if IsSupervisorMarker(k) {
			return nil, fmt.Errorf("%s:%d: %s is a service-manager marker that changes how the gateway restarts; remove it", path, n, k)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"') {
			u, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: bad double-quoted value: %w", path, n, k, err)
			}
			v = u
		} else if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading env file %s: %w", path, err)
	}
	return env, nil
}

// firstWord keeps a malformed line out of the error in full: it may be a secret.
func firstWord(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}
