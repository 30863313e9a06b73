package fakegateway

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// roleEnv tells a re-executed fake which part of an escape it plays.
const roleEnv = "FAKE_GATEWAY_ROLE"

// escape spawns a process that leaves the gateway's tree the way a daemon
// does: a broker child in its own session (setsid, as the real spawn
// broker, §9) starts a grandchild and exits, so the grandchild is orphaned
// and re-parented to init or the nearest child subreaper. With listen, the
// grandchild listens on 0.0.0.0. escape returns the grandchild's pid once
// it is in place (listening, if asked).
func (g *gateway) escape(listen bool) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"=broker", "FAKE_GATEWAY_ESCAPE_LISTEN="+strconv.FormatBool(listen))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	_ = cmd.Wait() // the broker exits at once: reap it, orphaning the grandchild
	pid, perr := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "escaped ")))
	if err != nil || perr != nil {
		return 0, fmt.Errorf("escaped grandchild did not report (%q): %v %v", line, err, perr)
	}
	g.rec.event("escaped pid=%d listen=%t", pid, listen)
	g.out.info("broker", "spawned escaped process pid=%d listen=%t", pid, listen)
	return pid, nil
}

// runRole runs a re-executed fake's part of an escape and reports whether
// this process had one.
func runRole() bool {
	switch os.Getenv(roleEnv) {
	case "broker":
		exe, err := os.Executable()
		if err != nil {
			os.Exit(1)
		}
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), roleEnv+"=escaped")
		cmd.Stdout = os.Stdout // the grandchild reports to the gateway itself
		if err := cmd.Start(); err != nil {
			os.Exit(1)
		}
		os.Exit(0) // without waiting: the grandchild is orphaned
	case "escaped":
		var ln net.Listener
		if os.Getenv("FAKE_GATEWAY_ESCAPE_LISTEN") == "true" {
			var err error
			if ln, err = net.Listen("tcp4", "0.0.0.0:0"); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
		}
		fmt.Printf("escaped %d\n", os.Getpid())
		os.Stdout.Close()
		if ln == nil {
			for {
				time.Sleep(time.Hour)
			}
		}
		for { // serve, and keep the listener referenced: a collected one closes
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
		}
	}
	return false
}
