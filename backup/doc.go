// Package backup makes, checks and restores openclawd's backups: one tar
// archive holding the gateway's state as OpenClaw's own `openclaw backup
// create --verify` captures it (SQLite online snapshots), the gateway
// token, Caddy's certificates and ACME account, and openclawd's config and
// env file, with a manifest of every member's SHA-256 written last.
//
// Everything here runs as the service user, in its state dir: a root
// openclawd re-executes itself as that user first (internal/privdrop).
//
// A restore never leaves a half-restored state in use: the archive is
// verified and extracted into <state_dir>/restore first, then swapped in
// item by item under a journal, so that whatever interrupts it, the next
// start either finishes the health gate or puts the previous state back.
package backup
