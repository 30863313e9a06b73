package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ReadEnvFile parses a KEY=VALUE secrets file. It refuses a file that group
// or others can read, since it holds API keys and tokens. Lines may start
// with "export "; values may be quoted; # starts a comment line.
func ReadEnvFile(path string) (map[string]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("env file %s is mode %04o, readable by others; it holds secrets: run chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	return ParseEnv(path, b)
}

// ParseEnv parses env-file content; errors name path and line.
func ParseEnv(path string, b []byte) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q is not KEY=VALUE", path, n, firstWord(line))
		}
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("%s:%d: %q is not a valid variable name", path, n, k)
		}
		if why := reservedEnv[k]; why != "" && k != "OPENCLAW_GATEWAY_TOKEN" {
			return nil, fmt.Errorf("%s:%d: %s is set by openclawd; %s", path, n, k, why)
		}
		if IsSupervisorMarker(k) {
			return nil, fmt.Errorf("%s:%d: %s is a service-manager marker that changes how the gateway restarts; remove it", path, n, k)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"') {
			u, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: bad double-quoted value: %w", path, n, k, err)
			}
			v = u
		} else if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading env file %s: %w", path, err)
	}
	return env, nil
}

// firstWord keeps a malformed line out of the error in full: it may be a secret.
func firstWord(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}
