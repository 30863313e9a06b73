package cli

import (
	"os"
	"os/user"
	"strconv"
)

// account is a uid and gid to hand files to; -1 leaves that id alone.
// The name behind it is the config's user, never a file's owner.
type account struct{ uid, gid int }

// lookupAccount is name's uid and gid when openclawd is root and the user
// exists (the group alone, if only it exists); otherwise (and for root
// itself) files stay the caller's.
func lookupAccount(name string) account {
	a := account{-1, -1}
	if os.Geteuid() != 0 || name == "" || name == "root" {
		return a
	}
	if g, err := user.LookupGroup(name); err == nil {
		a.gid, _ = strconv.Atoi(g.Gid)
	}
	if u, err := user.Lookup(name); err == nil {
		a.uid, _ = strconv.Atoi(u.Uid)
		a.gid, _ = strconv.Atoi(u.Gid)
	}
	return a
}
