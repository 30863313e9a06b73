// Package sdnotify implements the systemd notification protocol (sd_notify)
// without cgo or libsystemd, so openclawd can run as a Type=notify service
// with a watchdog. Outside systemd, and on every platform but Linux, it is a
// harmless no-op.
package sdnotify
