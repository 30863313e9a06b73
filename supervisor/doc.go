// Package supervisor keeps the gateway process alive: it starts it in its
// own process group with an explicit environment, watches it through a
// Prober, restarts it with backoff, refuses to respawn on a config error
// (exit 78), checks that it listens on loopback only, and stops it with
// SIGTERM, a drain timeout, then SIGKILL.
//
// The restart policy (Tracker) is pure: it never reads the clock or sleeps,
// so it is table-tested. The Supervisor's loop is one goroutine that owns
// the child; Status takes a snapshot under a mutex.
package supervisor
