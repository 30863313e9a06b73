//go:build !linux

package embedcaddy

// notifyChild: Caddy's sd_notify is a no-op off Linux (TestNoSDNotify).
func notifyChild() int { return 0 }

const bindChildEnv = "EMBEDCADDY_BIND_CHILD"

// bindChild: TestPrivilegedPort runs on Linux only.
func bindChild(string) int { return 0 }
