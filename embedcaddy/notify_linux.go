package embedcaddy

import _ "unsafe" // for go:linkname

// Caddy's notify package copies $NOTIFY_SOCKET into socketPath when the
// package is initialized, and caddy.Load then sends RELOADING=1, READY=1
// (and STATUS=<error> on failure) on every call, whatever the gateway's
// state; caddy.Stop sends nothing. Unsetting NOTIFY_SOCKET around Load does
// not help, since the variable was read before main ran. The daemon owns
// readiness (Type=notify, watchdog), so we blank Caddy's copy once, here.
// If Caddy renames the variable, linking fails loudly: no silent READY=1.
// TestNoSDNotify checks it under a real NOTIFY_SOCKET.
//
//go:linkname caddyNotifySocket github.com/caddyserver/caddy/v2/notify.socketPath
var caddyNotifySocket string

// init runs after notify's (we import caddy, which imports notify) and
// before any goroutine can call caddy.Load.
func init() { caddyNotifySocket = "" }
