package e2e

// Assumes the harness API of harness_test.go (newInstance, opts.gwEnv,
// waitStatus, token, eventLines) and root for the squatter's uid 65533.
// Whether openclawd runs as root or drops to a service user (`nobody`), the
// squatter is a foreign uid: named by pid and command when openclawd can
// read its fds, else by its uid.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/fakegateway/fgtest"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// TestSquatterDuringStartGetsNoToken has another uid bind 127.0.0.1:<port>
// after openclawd's port check, while the gateway starts, and answer
// /startupz with "started". The gateway must never be called healthy, the
// squatter must receive no token, and status must name it.
func TestSquatterDuringStartGetsNoToken(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the squatter as another uid")
	}
	t.Parallel()
	shared, err := os.MkdirTemp("", "squat")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	squatBin := filepath.Join(shared, "squatter")
	b, err := os.ReadFile(bins.fake)
	if err == nil {
		err = os.WriteFile(squatBin, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	gwGo, sqGo, sqEvents := filepath.Join(shared, "gw-go"), filepath.Join(shared, "sq-go"), filepath.Join(shared, "sq-events")
	// The gateway waits to bind until the squatter holds the port, then
	// retries as the real one does (§6).
	in := newInstance(t, opts{gwEnv: map[string]string{"FAKE_GATEWAY_WAIT_FILE": gwGo, "FAKE_GATEWAY_BIND_RETRY_MS": "60000"}})

	sq := exec.Command(squatBin, "gateway", "run", "--port", strconv.Itoa(in.port))
	sq.Env = []string{"OPENCLAW_GATEWAY_TOKEN=squatter-own-token", "FAKE_GATEWAY_STARTUP_MS=0", "FAKE_GATEWAY_LOG_CONNECT=1",
		"FAKE_GATEWAY_WAIT_FILE=" + sqGo, "FAKE_GATEWAY_EVENTS=" + sqEvents, "NO_COLOR=1"}
	sq.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65533, Gid: 65533}}
	sqOut := &fgtest.SyncBuffer{}
	sq.Stdout = sqOut
	if err := sq.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sq.Process.Kill(); _ = sq.Wait() })

	in.waitStatus("the gateway spawned", 30*time.Second, func(s apitype.Status, _ int) bool { return s.Gateway.PID > 0 })
	touch(t, sqGo)
	fgtest.WaitFor(t, 10*time.Second, "the squatter to listen", func() bool {
		b, _ := os.ReadFile(sqEvents)
		return strings.Contains(string(b), "listening")
	})
	touch(t, gwGo)

	byPID, byUID := fmt.Sprintf("pid %d (squatter)", sq.Process.Pid), "uid 65533"
	names := func(s string) bool { return strings.Contains(s, byPID) || strings.Contains(s, byUID) }
	deadline := time.Now().Add(40 * time.Second)
	for {
		st, _ := in.status()
		if st.Healthy || st.Gateway.State == "running" {
			t.Fatalf("declared %s (healthy %v) while a squatter answers on the port", st.Gateway.State, st.Healthy)
		}
		last := ""
		if st.Gateway.LastExit != nil {
			last = st.Gateway.LastExit.Reason
		}
		if (st.Gateway.Code == "port_squatted" || st.Gateway.Code == "port_in_use") && names(st.Gateway.Reason+" "+last) {
			t.Logf("status %s %s: %s", st.Gateway.State, st.Gateway.Code, st.Gateway.Reason)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never named the squatter (%s or %s): %+v\n%s", byPID, byUID, st.Gateway, in.stderr)
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a condition wait
	}
	if strings.Contains(sqOut.String(), in.token()) {
		t.Errorf("the squatter received the gateway token:\n%s", sqOut)
	}
	if !strings.Contains(in.stderr.String(), "not the gateway") {
		t.Errorf("openclawd's log does not say the answer was not the gateway's:\n%s", in.stderr)
	}
}

func touch(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o666); err != nil {
		t.Fatal(err)
	}
}
