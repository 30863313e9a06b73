package fakegateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// cmdPackage is the binary's import path, for Build.
const cmdPackage = "github.com/openclawd/openclawd/internal/fakegateway/cmd/fakegateway"

// recorder appends one line per lifecycle event to FAKE_GATEWAY_EVENTS, so a
// test can count starts and exits across restarts by its supervisor.
type recorder struct{ path string }

// event appends a line with a single O_APPEND write: concurrent fakes sharing
// one file never interleave within a line.
func (r recorder) event(format string, args ...any) {
	if r.path == "" {
		return
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakegateway: recording event: %v\n", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, format+"\n", args...); err != nil {
		fmt.Fprintf(os.Stderr, "fakegateway: recording event: %v\n", err)
	}
}

// dumpEnv writes the environment as a JSON object, through a temporary file
// and a rename so a test polling for it never reads half a file.
func dumpEnv(path string) error {
	if path == "" {
		return nil
	}
	env := make(map[string]string)
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding environment: %w", err)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing environment dump: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing environment dump: %w", err)
	}
	return nil
}

// ReadEnvDump reads a file written through FAKE_GATEWAY_ENV_DUMP.
func ReadEnvDump(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading environment dump: %w", err)
	}
	env := make(map[string]string)
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("decoding environment dump %s: %w", path, err)
	}
	return env, nil
}

// Build compiles the fake gateway into dir and returns the binary's path.
// Tests call it once (TestMain) and run the binary as gateway.command; the
// go build cache makes repeated builds cheap.
func Build(ctx context.Context, dir string) (string, error) {
	gobin, err := goCommand()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "fakegateway")
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", out, cmdPackage)
	// Build from this package's directory, so the module is found whatever
	// the caller's working directory.
	if _, file, _, ok := runtime.Caller(0); ok {
		if st, err := os.Stat(filepath.Dir(file)); err == nil && st.IsDir() {
			cmd.Dir = filepath.Dir(file)
		}
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building fake gateway: %w\n%s", err, b)
	}
	return out, nil
}

func goCommand() (string, error) {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		return "", errors.New("building fake gateway: no go command on PATH or in GOROOT")
	}
	return p, nil
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago. Another
// process may take it before the fake binds; tests that care retry.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
