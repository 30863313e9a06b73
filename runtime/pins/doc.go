// Package pins holds openclawd's pinned runtime: the Node.js version with the
// sha256 of its official tarballs, and the openclaw npm package with the
// package.json and package-lock.json that `npm ci` installs it from. The
// lockfile carries integrity hashes but no "resolved" URLs, so npm resolves
// against its configured registry. Regenerate with
// `make pin OPENCLAW=x.y.z NODE=a.b.c` (internal/cmd/pin); don't edit by hand.
package pins

import "embed"

// OpenclawFiles holds openclaw/package.json and openclaw/package-lock.json.
//
//go:embed openclaw/package.json openclaw/package-lock.json
var OpenclawFiles embed.FS
