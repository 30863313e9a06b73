package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
	"github.com/openclawd/openclawd/internal/sockets"
)

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

func readLines(t testing.TB, p string) []string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func countLines(t testing.TB, p string) int { return len(readLines(t, p)) }

// newFakeProcess starts a fake gateway as an earlier openclawd would have
// left it: in its own session, on in's port, recorded in in's pid file.
func newFakeProcess(t testing.TB, in *instance) int {
	t.Helper()
	tokenDir := filepath.Join(in.dir, "state", "secrets")
	if err := os.MkdirAll(tokenDir, 0o700); err != nil {
		t.Fatal(err)
	}
	token := "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(filepath.Join(tokenDir, "gateway-token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins.fake, "--port", strconv.Itoa(in.port))
	cmd.Env = []string{"OPENCLAW_GATEWAY_TOKEN=" + token, "FAKE_GATEWAY_STARTUP_MS=0"}
	// An earlier openclawd's gateway ran as the service user, as this one's will.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true,
		Credential: &syscall.Credential{Uid: uint32(serviceIDs.uid), Gid: uint32(serviceIDs.gid), Groups: []uint32{}}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	go cmd.Wait() // reap it when openclawd kills it
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	st, err := sockets.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(in.dir, "state", "run")
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runDir, "gateway.pid"), []byte(fmt.Sprintf("%d %s\n", pid, st)), 0o600); err != nil {
		t.Fatal(err)
	}
	fgtest.WaitFor(t, 10*time.Second, "the stale fake to listen", func() bool {
		ls, _ := sockets.TCPListeners(in.port)
		return len(ls) > 0
	})
	return pid
}
