package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts the gateway in its own process group, so one signal
// reaches it and its workers, and has the kernel kill it if openclawd dies
// (Pdeathsig follows the forking thread: best effort, the pid file and the
// stale-gateway check on start are the backstop).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// gatewayOOMScore is the gateway's oom_score_adj: under memory pressure
// the kernel kills the gateway (and its workers, which inherit it) before
// openclawd, which can then restart it and say why. Raising a score needs
// no privilege.
const gatewayOOMScore = 500

func raiseOOMScore(pid int) {
	p := fmt.Sprintf("/proc/%d/oom_score_adj", pid)
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	if cur, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && cur >= gatewayOOMScore {
		return
	}
	_ = os.WriteFile(p, []byte(strconv.Itoa(gatewayOOMScore)), 0)
}
