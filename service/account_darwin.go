package service

import (
	"context"
	"fmt"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
)

func createGroup(name string) error {
	id, err := freeDarwinID(name)
	if err != nil {
		return err
	}
	g := "/Groups/" + name
	return dscl([][]string{
		{"-create", g}, {"-create", g, "PrimaryGroupID", strconv.Itoa(id)},
		{"-create", g, "RealName", "openclawd"}, {"-create", g, "Password", "*"},
	})
}

func createUser(name, home string) error {
	g, err := user.LookupGroup(name)
	if err != nil {
		return fmt.Errorf("looking up group %s: %w", name, err)
	}
	id, err := freeDarwinID(name)
	if err != nil {
		return err
	}
	u := "/Users/" + name
	return dscl([][]string{
		{"-create", u}, {"-create", u, "UniqueID", strconv.Itoa(id)},
		{"-create", u, "PrimaryGroupID", g.Gid}, {"-create", u, "UserShell", "/usr/bin/false"},
		{"-create", u, "NFSHomeDirectory", home}, {"-create", u, "RealName", "openclawd"},
		{"-create", u, "Password", "*"}, {"-create", u, "IsHidden", "1"},
	})
}

// freeDarwinID is the highest id below 400 that no user or group has:
// macOS keeps 200–400 for daemons.
func freeDarwinID(name string) (int, error) {
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
	return 0, fmt.Errorf("no free user and group id between 200 and 399 for %s", name)
}

func dscl(cmds [][]string) error {
	for _, c := range cmds {
		if err := runTool(context.Background(), "dscl", append([]string{"."}, c...)...); err != nil {
			return err
		}
	}
	return nil
}
