package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	if err := WriteFileAtomic(path, []byte(t+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("saving gateway token: %w", err)
	}
	return t, path, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, fsyncs it, renames it into place and fsyncs the directory, so a
// crash leaves either the old file or the new one. Parent directories are
// created 0700.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // harmless after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
