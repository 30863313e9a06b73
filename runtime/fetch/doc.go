// Package fetch downloads a pinned runtime archive, verifies its SHA-256 and
// unpacks it into a versioned directory without ever exposing a half-written
// tree.
//
// The steps are separate so the caller controls each one:
//
//	archive, err := fetch.Download(ctx, url, pin, versionsDir, fetch.NewProgress(os.Stderr, tty, "downloading node", log))
//	...
//	defer os.Remove(archive)
//	err = fetch.Extract(archive, filepath.Join(versionsDir, "v24.21.0"), fetch.Limits{})
//
// Every write goes to a temporary name in the target's own directory (so the
// final rename is atomic) and is removed on error. A process killed mid-way
// leaves only dot-named temporaries (".<name>.tmp-*", ".<name>.*.partial"),
// never a partial target; the next Download or Install of the same name
// removes them.
//
// Downloading and checksum verification use go-getter/v2 (pinned at v2.2.5:
// v2.2.6 needs go 1.26.10), with only its HTTP and file getters, no
// decompressors and X-Terraform-Get disabled.
//
// The extractor is our own rather than go-getter's: go-getter turns tar
// symlinks (Node's bin/npm, bin/npx, bin/corepack) into empty files, and its
// default decompressors have no size limits. It writes through os.Root, so no
// entry can land outside the target even if a check here were wrong.
//
// Callers must serialise Install and Extract for one target (e.g. with a lock
// file): a concurrent run's temporary directory looks stale and is removed.
package fetch

import "errors"

var (
	// ErrChecksumMismatch means the downloaded bytes do not hash to the pin
	// compiled into the binary.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrNotFound means the server (or file system) has no such file; the
	// version or the mirror URL is likely wrong.
	ErrNotFound = errors.New("not found; check the version and the mirror URL")
)
