//go:build systest

// Package systest boots real Debian 12 machines with systemd as PID 1
// (systemd-nspawn) on a private test network, installs openclawd's .deb
// in them and checks it the way an operator would meet it: dpkg, systemd,
// reboots, kill -9, HTTPS from another host with a certificate from an
// offline ACME CA (Pebble), upgrade, remove and purge.
//
// Everything here follows docs/system-tests.md (the shared recipe): a
// debootstrap rootfs cached as a tarball, one fresh machine per test,
// network namespaces on 198.18.0.0/15 with no route out, commands run in
// the guest through nsenter, and a teardown that asserts nothing is left.
//
// It needs root, debootstrap, systemd-nspawn and zstd. Without them the
// tests skip, except under CI=true where they fail naming what is missing.
// Run it with:
//
//	go test -tags systest -count=1 ./systest/
//	go test -tags systest -run '^$' -bench . ./systest/   # boot/reboot to healthy
//
// The rootfs tarball and the real gateway's runtime are cached under
// $OPENCLAWD_TEST_CACHE/systest (default ~/.cache/openclawd-test/systest);
// machines live on /dev/shm when it has room, or under SYSTEST_WORKDIR.
// The Debian mirror comes from this machine's apt sources, or from
// SYSTEST_APT_MIRROR.
package systest
