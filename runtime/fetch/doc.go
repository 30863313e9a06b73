// Package fetch downloads a pinned runtime archive, verifies its SHA-256 and
// unpacks it into a versioned directory without ever exposing a half-written
// tree.
//
// The steps are separate so the caller controls each one:
//
//	archive, err := fetch.Download(ctx, url, pin, versionsDir, fetch.NewProgress(os.Stderr, tty, "downloading node", log))
//	...
//	defer archive.Close()
//	err = fetch.Extract(archive, filepath.Join(versionsDir, "v24.21.0"), fetch.Limits{})
//
// The runtime directory can be written by the service user, whose account
// the gateway's agent may have taken over, so nothing is trusted by name
// between a check and its use. Download writes into a file created O_EXCL
// in a private 0700 directory, hashes the bytes as it writes them, and
// hands back the open, already unlinked file; Extract reads that same
// descriptor. Extraction goes into a fresh 0700 directory in the target's
// own directory (so the final rename is atomic), which must still be the
// directory openclawd made when it is renamed. A process killed mid-way
// leaves only dot-named temporaries (".<name>.tmp-*", ".<name>.*.partial"),
// never a partial target; the next Download or Install of the same name
// removes them.
//
// The transfer is plain net/http (proxies from the environment, no
// transparent decompression, no https-to-http redirects, a stall timeout
// and a size cap) or a copy for file:// URLs.
//
// The extractor is our own: it writes through os.Root, so no entry can land
// outside the target even if a check here were wrong, keeps Node's
// symlinks (bin/npm, bin/npx, bin/corepack) and has size and file-count
// limits.
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
