package backup

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Format is the archive format this openclawd writes and reads.
const Format = 1

// Member names inside an archive.
const (
	ManifestName = "openclawd-backup.json" // always the last member
	gatewayDir   = "openclaw/"             // OpenClaw's own archive, one .tar.gz
	secretsDir   = "secrets/"
	caddyDir     = "caddy/"
	configDir    = "config/"
	configName   = configDir + "openclawd.yaml"
	envName      = configDir + "gateway.env"
)

// Suffix ends every complete archive's name; partial ones start with ".".
const Suffix = ".tar"

// Manifest describes one archive.
type Manifest struct {
	Format           int       `json:"format"`
	Created          time.Time `json:"created"`
	Host             string    `json:"host"`
	OpenclawdVersion string    `json:"openclawd_version"`
	OpenclawVersion  string    `json:"openclaw_version"` // the gateway that wrote the state
	NodeVersion      string    `json:"node_version,omitempty"`
	// GatewayStateDir is the gateway's state dir when it was backed up.
	GatewayStateDir string  `json:"gateway_state_dir"`
	Gateway         Content `json:"gateway"`
	Files           []File  `json:"files"` // every member but the manifest
}

// Content is what the gateway's archive holds, relative to its state dir.
type Content struct {
	Config    bool     `json:"config"`    // openclaw.json
	Databases []string `json:"databases"` // every *.sqlite
	Files     int      `json:"files"`
	Bytes     int64    `json:"bytes"`
}

// File is one archive member.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// archiveName is the name of an archive made at t.
func archiveName(t time.Time) string {
	return "openclawd-backup-" + t.UTC().Format("20060102T150405Z") + Suffix
}

// ArchiveTime parses the time out of an archive's name (an encrypted
// copy's too); false for any other name.
func ArchiveTime(name string) (time.Time, bool) {
	name = strings.TrimSuffix(name, ".age")
	if !strings.HasPrefix(name, "openclawd-backup-") || !strings.HasSuffix(name, Suffix) {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T150405Z", strings.TrimSuffix(strings.TrimPrefix(name, "openclawd-backup-"), Suffix))
	return t, err == nil
}

// compareVersions compares OpenClaw's calendar versions (2026.9.6):
// -1, 0 or 1. Pre-release suffixes count as the release.
func compareVersions(a, b string) (int, error) {
	pa, err := versionParts(a)
	if err != nil {
		return 0, err
	}
	pb, err := versionParts(b)
	if err != nil {
		return 0, err
	}
	for i := range 3 {
		switch {
		case pa[i] < pb[i]:
			return -1, nil
		case pa[i] > pb[i]:
			return 1, nil
		}
	}
	return 0, nil
}

func versionParts(v string) ([3]int, error) {
	var out [3]int
	core, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return out, fmt.Errorf("%q is not a version like 2026.9.6", v)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return out, fmt.Errorf("%q is not a version like 2026.9.6", v)
		}
		out[i] = n
	}
	return out, nil
}
