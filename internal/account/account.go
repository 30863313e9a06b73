// Package account resolves openclawd's service user: the account the
// gateway, npm and every piece of work inside the state dir run as. Its
// name comes from the config (key user), never from who owns a file: the
// service user can change its own files, and root must not be told by
// them whom to become.
package account

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// Account is a resolved user.
type Account struct {
	Name     string
	UID, GID int
	Groups   []int // the user's own supplementary groups, never the caller's
	Home     string
}

// Lookup resolves name. The error says how to create the account.
func Lookup(name string) (Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Account{}, fmt.Errorf("service user %q (config key user) does not exist: create it with "+
			"`useradd --system --user-group --home-dir /var/lib/openclawd --shell /usr/sbin/nologin %s` "+
			"(the .deb and `openclawd service install` do), or name an existing unprivileged account: %w", name, name, err)
	}
	a := Account{Name: u.Username, Home: u.HomeDir}
	if a.UID, err = strconv.Atoi(u.Uid); err != nil {
		return Account{}, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	if a.GID, err = strconv.Atoi(u.Gid); err != nil {
		return Account{}, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.Atoi(id); err == nil {
				a.Groups = append(a.Groups, g)
			}
		}
	}
	return a, nil
}

// IsRoot reports whether the account is uid 0.
func (a Account) IsRoot() bool { return a.UID == 0 }

// IsCurrent reports whether this process runs as the account.
func (a Account) IsCurrent() bool { return os.Geteuid() == a.UID }

// Credential is the account for exec's SysProcAttr: its uid, gid and its
// own supplementary groups (an empty list, not root's, when it has none).
func (a Account) Credential() *syscall.Credential {
	c := &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID), Groups: []uint32{}}
	for _, g := range a.Groups {
		c.Groups = append(c.Groups, uint32(g))
	}
	return c
}

// String names the account for messages: "openclawd (uid 998)".
func (a Account) String() string { return fmt.Sprintf("%s (uid %d)", a.Name, a.UID) }

// Allows reports whether a may use fi by bit (4 read, 2 write, 1 search),
// by the owner's, a group's or everyone's bits, as the kernel picks them.
// A UID or GID of -1 (an account not created yet) matches no file.
func (a Account) Allows(fi fs.FileInfo, bit fs.FileMode) bool {
	m := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
	case a.UID >= 0 && int(st.Uid) == a.UID:
		return m&(bit<<6) != 0
	case a.GID >= 0 && int(st.Gid) == a.GID, slices.Contains(a.Groups, int(st.Gid)):
		return m&(bit<<3) != 0
	}
	return m&bit != 0
}

// Blocker is the first directory above path that a may not search, or ""
// when a can reach path.
func (a Account) Blocker(path string) (dir string, mode fs.FileMode, err error) {
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return "", 0, err
		}
		if !a.Allows(fi, 0o1) {
			return d, fi.Mode().Perm(), nil
		}
		if d == filepath.Dir(d) {
			return "", 0, nil
		}
	}
}
