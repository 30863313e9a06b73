package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// serviceUser runs openclawd under our unit and plist (packaging/): the
// .deb creates openclawd; macOS daemon users start with an underscore.
var serviceUser = map[bool]string{false: "openclawd", true: "_openclawd"}[runtime.GOOS == "darwin"]

// account is a uid and gid to hand files to; -1 leaves that id alone.
type account struct{ uid, gid int }

func (a account) chown(path string) error {
	if a.uid < 0 && a.gid < 0 {
		return nil
	}
	return os.Chown(path, a.uid, a.gid)
}

// lookupAccount is name's uid and gid when openclawd is root and the user
// exists (the group alone, if only it exists); otherwise files stay the
// caller's.
func lookupAccount(name string) account {
	a := account{-1, -1}
	if os.Geteuid() != 0 || name == "" {
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

func serviceAccount() account { return lookupAccount(serviceUser) }

// ensureServiceGroup and ensureServiceUser create the service account as
// the .deb's postinst does (Linux) or as macOS daemons' installers do.
func ensureServiceGroup() error {
	if _, err := user.LookupGroup(serviceUser); err == nil {
		return nil
	}
	switch runtime.GOOS {
	case "linux":
		return runTool("groupadd", "--system", serviceUser)
	case "darwin":
		id, err := freeDarwinID()
		if err != nil {
			return err
		}
		g := "/Groups/" + serviceUser
		return dscl([][]string{
			{"-create", g}, {"-create", g, "PrimaryGroupID", strconv.Itoa(id)},
			{"-create", g, "RealName", "openclawd"}, {"-create", g, "Password", "*"},
		})
	}
	return nil
}

func ensureServiceUser(home string) error {
	if _, err := user.Lookup(serviceUser); err == nil {
		return nil
	}
	switch runtime.GOOS {
	case "linux":
		shell := "/usr/sbin/nologin"
		if _, err := os.Stat(shell); err != nil {
			shell = "/sbin/nologin"
		}
		return runTool("useradd", "--system", "--gid", serviceUser, "--home-dir", home,
			"--no-create-home", "--shell", shell, "--comment", "openclawd (OpenClaw gateway)", serviceUser)
	case "darwin":
		g, err := user.LookupGroup(serviceUser)
		if err != nil {
			return fmt.Errorf("looking up group %s: %w", serviceUser, err)
		}
		id, err := freeDarwinID()
		if err != nil {
			return err
		}
		u := "/Users/" + serviceUser
		return dscl([][]string{
			{"-create", u}, {"-create", u, "UniqueID", strconv.Itoa(id)},
			{"-create", u, "PrimaryGroupID", g.Gid}, {"-create", u, "UserShell", "/usr/bin/false"},
			{"-create", u, "NFSHomeDirectory", home}, {"-create", u, "RealName", "openclawd"},
			{"-create", u, "Password", "*"}, {"-create", u, "IsHidden", "1"},
		})
	}
	return nil
}

// freeDarwinID is the highest id below 400 that no user or group has:
// macOS keeps 200–400 for daemons.
func freeDarwinID() (int, error) {
	var used []int
	for _, q := range [][]string{{"/Users", "UniqueID"}, {"/Groups", "PrimaryGroupID"}} {
		out, err := exec.Command("dscl", ".", "-list", q[0], q[1]).Output()
		if err != nil {
			return 0, fmt.Errorf("dscl . -list %s: %w", strings.Join(q, " "), err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				if n, err := strconv.Atoi(f[1]); err == nil {
					used = append(used, n)
				}
			}
		}
	}
	for id := 399; id >= 200; id-- {
		if !slices.Contains(used, id) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("no free user and group id between 200 and 399 for %s", serviceUser)
}

func dscl(cmds [][]string) error {
	for _, c := range cmds {
		if err := runTool("dscl", append([]string{"."}, c...)...); err != nil {
			return err
		}
	}
	return nil
}

func runTool(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
