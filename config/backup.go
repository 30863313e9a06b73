package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Backup configures `openclawd backup` and the daemon's schedule. Local
// archives live in <state_dir>/backups; targets keep copies elsewhere.
type Backup struct {
	// Every is the schedule: the daemon makes a backup when the last good
	// one is older than this, whether or not the gateway runs (default
	// 24h; 0s turns scheduled backups off).
	Every time.Duration `yaml:"every"`
	// Keep is how many archives survive pruning, here and at each target.
	Keep Keep `yaml:"keep"`
	// Recipients are age public keys (age1…) that copies sent to targets
	// are encrypted to; the identity (secret key) never lives on this host
	// (`openclawd backup keygen` makes a pair). Required for s3 targets.
	Recipients []string `yaml:"recipients"`
	// Targets receive a copy of every backup (default none).
	Targets []BackupTarget `yaml:"targets"`
}

// Keep is a grandfather-father-son retention, as restic's forget: the Last
// newest archives, and the newest archive of each of the last Daily days,
// Weekly ISO weeks and Monthly months are kept (default 3, 7, 4, 6). The
// newest archive is always kept.
type Keep struct {
	Last    int `yaml:"last"`
	Daily   int `yaml:"daily"`
	Weekly  int `yaml:"weekly"`
	Monthly int `yaml:"monthly"`
}

// BackupTarget is one place copies go: a directory (a mounted disk) or an
// S3-compatible bucket (AWS, R2, B2, Wasabi, MinIO).
type BackupTarget struct {
	// Name is how commands refer to it (`backup --to NAME`).
	Name string `yaml:"name"`
	// Type is dir or s3.
	Type string `yaml:"type"`
	// Path is the directory (dir).
	Path string `yaml:"path"`
	// Endpoint is the S3 API's URL, e.g. https://s3.eu-central-1.amazonaws.com
	// or https://<account>.r2.cloudflarestorage.com (s3).
	Endpoint string `yaml:"endpoint"`
	// Bucket and Prefix say where archives go (s3).
	Bucket string `yaml:"bucket"`
	Prefix string `yaml:"prefix"`
	// Region, when the store needs one (default: the store's).
	Region string `yaml:"region"`
	// PathStyle addresses the bucket in the path (MinIO, versitygw)
	// rather than the host name (default false: the store decides).
	PathStyle bool `yaml:"path_style"`
	// AccessKeyEnv and SecretKeyEnv name the env file's variables that
	// hold the credentials (default OPENCLAWD_S3_ACCESS_KEY_ID and
	// OPENCLAWD_S3_SECRET_ACCESS_KEY). Variables named OPENCLAWD_* are
	// openclawd's: the gateway never sees them.
	AccessKeyEnv string `yaml:"access_key_env"`
	SecretKeyEnv string `yaml:"secret_key_env"`
}

// Credential variables of an s3 target without its own names.
const (
	DefaultS3AccessKeyEnv = "OPENCLAWD_S3_ACCESS_KEY_ID"
	DefaultS3SecretKeyEnv = "OPENCLAWD_S3_SECRET_ACCESS_KEY"
)

// Keys returns the env file variables holding the target's credentials.
func (t BackupTarget) Keys() (access, secret string) {
	access, secret = t.AccessKeyEnv, t.SecretKeyEnv
	if access == "" {
		access = DefaultS3AccessKeyEnv
	}
	if secret == "" {
		secret = DefaultS3SecretKeyEnv
	}
	return access, secret
}

// Target returns the target called name.
func (b Backup) Target(name string) (BackupTarget, bool) {
	for _, t := range b.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return BackupTarget{}, false
}

var (
	targetNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	ageRecipRE   = regexp.MustCompile(`^age1[02-9ac-hj-np-z]{58}$`)
)

func (c *Config) validateBackup(bad func(key, format string, args ...any)) {
	b := c.Backup
	if b.Every < 0 || (b.Every > 0 && b.Every < time.Hour) {
		bad("backup.every", "%s is too often; use 1h or more (default 24h), or 0s to turn scheduled backups off", b.Every)
	}
	for _, k := range []struct {
		key string
		n   int
	}{{"backup.keep.last", b.Keep.Last}, {"backup.keep.daily", b.Keep.Daily}, {"backup.keep.weekly", b.Keep.Weekly}, {"backup.keep.monthly", b.Keep.Monthly}} {
		if k.n < 0 {
			bad(k.key, "%d must be 0 or more", k.n)
		}
	}
	for i, r := range b.Recipients {
		if !ageRecipRE.MatchString(strings.TrimSpace(r)) {
			bad(fmt.Sprintf("backup.recipients[%d]", i), "%q is not an age public key (age1…, 62 characters); make a key pair with `openclawd backup keygen` and put its public key here", r)
		}
	}
	seen := map[string]bool{}
	for i, t := range b.Targets {
		key := fmt.Sprintf("backup.targets[%d]", i)
		switch {
		case !targetNameRE.MatchString(t.Name):
			bad(key+".name", "%q is not a target name; use lower-case letters, digits, - and _ (e.g. offsite)", t.Name)
		case seen[t.Name]:
			bad(key+".name", "%q names two targets", t.Name)
		}
		seen[t.Name] = true
		switch t.Type {
		case "dir":
			if !filepath.IsAbs(t.Path) {
				bad(key+".path", "%q is not an absolute path; name the directory on the backup disk, e.g. /mnt/backup/openclawd", t.Path)
			} else if rel, err := filepath.Rel(c.StateDir, t.Path); err == nil && !strings.HasPrefix(rel, "..") {
				bad(key+".path", "%q is inside state_dir; a copy there is lost with it: use another disk", t.Path)
			}
		case "s3":
			if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad(key+".endpoint", "%q is not an http(s):// URL of an S3 API, e.g. https://s3.eu-central-1.amazonaws.com", t.Endpoint)
			}
			if t.Bucket == "" {
				bad(key+".bucket", "an s3 target needs a bucket")
			}
			if len(b.Recipients) == 0 {
				bad(key, "copies to s3 are encrypted: add backup.recipients (an age public key; `openclawd backup keygen` makes a pair)")
			}
			for _, k := range []struct{ key, v string }{{key + ".access_key_env", t.AccessKeyEnv}, {key + ".secret_key_env", t.SecretKeyEnv}} {
				if k.v != "" && !envName.MatchString(k.v) {
					bad(k.key, "%q is not an environment variable name", k.v)
				}
			}
		default:
			bad(key+".type", "%q is not dir or s3", t.Type)
		}
	}
}
