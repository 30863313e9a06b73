// Package caps starts child processes without the ambient capabilities
// openclawd itself runs with. The packaged unit grants openclawd
// CAP_NET_BIND_SERVICE as an ambient capability, so that its embedded Caddy
// can bind ports 80 and 443 without root; ambient capabilities survive
// execve, so without this the gateway, npm and every install script would
// be able to bind privileged ports too.
package caps

import "os/exec"

// Start starts cmd with an empty ambient capability set. openclawd's own
// effective capabilities are untouched, so Caddy can still rebind on a
// reload.
func Start(cmd *exec.Cmd) error { return start(cmd) }

// Run is Start followed by Wait.
func Run(cmd *exec.Cmd) error {
	if err := Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}
