package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openclawd/openclawd/internal/fsutil"
)

// MinTokenLen is the gateway's own floor for a token (openclaw-gateway.md §13).
const MinTokenLen = 24

// TokenFile is where a generated gateway token is kept (mode 0600).
func (c *Config) TokenFile() string { return filepath.Join(c.SecretsDir(), "gateway-token") }

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
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return "", "", fmt.Errorf("%s is mode %04o, readable by others; run chmod 600 %s (and consider replacing the token: delete the file and restart)", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		t := strings.TrimSpace(string(b))
		if len(t) < MinTokenLen {
			return "", "", fmt.Errorf("%s holds a %d-character token; the gateway needs at least %d (delete the file to generate a new one)", path, len(t), MinTokenLen)
		}
		return t, path, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", "", fmt.Errorf("reading gateway token: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", fmt.Errorf("generating gateway token: %w", err)
	}
	t := hex.EncodeToString(raw)
	if err := fsutil.WriteFileAtomic(path, []byte(t+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("saving gateway token: %w", err)
	}
	return t, path, nil
}
