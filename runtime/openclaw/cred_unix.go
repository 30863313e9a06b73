package openclaw

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// credential is the unprivileged user npm runs as when openclawd is root;
// nil means "as ourselves".
type credential struct {
	name     string
	uid, gid uint32
	groups   []uint32 // the user's own supplementary groups, not root's
}

// installCredential resolves the install user. Only root switches users:
// npm's install scripts must not run as root.
func installCredential(name string) (*credential, error) {
	if os.Geteuid() != 0 || name == "" || name == "root" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q (openclaw.install_user): npm's install scripts must not run as root; create it with `useradd --system %s`, or name an existing unprivileged user: %v", errNoUser, name, name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	c := &credential{name: name, uid: uint32(uid), gid: uint32(gid), groups: []uint32{}}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				c.groups = append(c.groups, uint32(g))
			}
		}
	}
	return c, nil
}

func (c *credential) sysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(a) // npm dies with openclawd
	if c != nil {
		a.Credential = &syscall.Credential{Uid: c.uid, Gid: c.gid, Groups: c.groups}
	}
	return a
}

func (c *credential) chownTree(dir string) error {
	if c == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(c.uid), int(c.gid))
	})
}

// canReach reports whether the user may walk down to path and run it: npm
// runs as that user with the pinned node, inside openclawd's state dir.
func (c *credential) canReach(path string) error {
	if c == nil {
		return nil
	}
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		if ok {
			switch {
			case st.Uid == c.uid && mode&0o100 != 0:
			case st.Gid == c.gid && mode&0o010 != 0:
			case mode&0o001 != 0:
			default:
				return fmt.Errorf("install user %s cannot reach %s (owner uid %d, mode %04o); npm runs as that user: let it through with `chmod o+x %s`, or run openclawd as the service user", c.name, p, st.Uid, mode, p)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
