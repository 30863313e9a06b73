// Package openclaw provisions and configures the openclaw npm package: it
// installs the pinned version with the pinned Node's own npm (`npm ci`
// against the lockfile compiled into openclawd) into a versioned prefix,
// keeps the keys openclawd owns in the gateway's openclaw.json without
// touching any other, builds the gateway's command line, and finds state
// left under the gateway's old name.
package openclaw
