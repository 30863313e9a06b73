package service

import (
	"fmt"
	"os/user"
)

// EnsureGroup creates the group name if it is missing: the config it will
// own (root:<group> 0640) may be written before the user exists.
func EnsureGroup(name string) error {
	if _, err := user.LookupGroup(name); err == nil {
		return nil
	}
	if err := createGroup(name); err != nil {
		return fmt.Errorf("creating the service group %s (config key user): %w", name, err)
	}
	return nil
}

// EnsureAccount creates the service user name (config key user) and its
// group if they are missing, as the .deb's postinst does on Linux and as
// macOS daemons' installers do: a system account with no login shell and
// home (not created) at the state dir.
func EnsureAccount(name, home string) error {
	if err := EnsureGroup(name); err != nil {
		return err
	}
	if _, err := user.Lookup(name); err == nil {
		return nil
	}
	if err := createUser(name, home); err != nil {
		return fmt.Errorf("creating the service user %s (config key user): %w", name, err)
	}
	return nil
}
