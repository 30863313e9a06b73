package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/openclawd/openclawd/internal/fsutil"
)

// MinTokenLen is the gateway's own floor for a token (openclaw-gateway.md §13).
const MinTokenLen = 24

// TokenFile is where a generated gateway token is kept (mode 0600).
func (c *Config) TokenFile() string { return c.Layout().TokenFile() }

// GatewayToken returns the token the gateway must use: OPENCLAW_GATEWAY_TOKEN
// from the env file if set, else the one generated on first use and kept in
// TokenFile. It never logs or prints the token.
func (c *Config) GatewayToken(envFile map[string]string) (token, source string, err error) {
	if t, ok := envFile["OPENCLAW_GATEWAY_TOKEN"]; ok {
		if len(t) < MinTokenLen {
			return "", "", fmt.Errorf("%s: OPENCLAW_GATEWAY_TOKEN is %d characters; the gateway needs at least %d random ones (remove the line to let openclawd generate one)", c.Gateway.EnvFile, len(t), MinTokenLen)
		}
		return t, c.Gateway.EnvFile, nil
	}
	path := c.TokenFile()
	t, err := readToken(path)
	switch {
	case err == nil:
		if len(t) < MinTokenLen {
			return "", "", fmt.Errorf("%s holds a %d-character token; the gateway needs at least %d (delete the file to generate a new one)", path, len(t), MinTokenLen)
		}
		return t, path, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", "", err
	}
	b, err := NewToken()
	if err != nil {
		return "", "", err
	}
	t = strings.TrimSpace(string(b))
	if err := fsutil.WriteFileAtomic(path, b, 0o600); err != nil {
		return "", "", fmt.Errorf("saving gateway token: %w", err)
	}
	return t, path, nil
}

// readToken reads the token file without following a link, and only if
// it is a regular file of this process's user (the service user: the
// daemon and every command that reads it run as that user) that nobody
// else may read.
func readToken(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return "", fmt.Errorf("%s is a symlink; the token is never read through one: remove it (`rm %s`) and restart openclawd to generate a new token", path, path)
		}
		if errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		return "", fmt.Errorf("reading gateway token: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading gateway token: %w", err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%s is not a regular file; remove it and restart openclawd to generate a new token", path)
	case st != nil && int(st.Uid) != os.Geteuid():
		return "", fmt.Errorf("%s belongs to uid %d, not to uid %d that reads it: a token file of another user is not trusted; remove it and restart openclawd to generate a new one", path, st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o077 != 0:
		return "", fmt.Errorf("%s is mode %04o, readable by others; run chmod 600 %s (and consider replacing the token: delete the file and restart)", path, fi.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("reading gateway token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// NewToken is a fresh token file's content: 32 random bytes in hex.
func NewToken() ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generating gateway token: %w", err)
	}
	return []byte(hex.EncodeToString(raw) + "\n"), nil
}

// ReadEnv reads gateway.env_file (nil when unset) as the process that
// uses it: the service user, whose uid and gid the file's owner and group
// may be (config.ReadEnvFileOwned has the rules).
func (c *Config) ReadEnv() (map[string]string, error) {
	if c.Gateway.EnvFile == "" {
		return nil, nil
	}
	return ReadEnvFileOwned(c.Gateway.EnvFile, os.Geteuid(), os.Getegid())
}
