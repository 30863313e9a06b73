package peercred

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// socketPair returns both ends of a real unix stream connection.
func socketPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		accepted <- result{c, err}
	}()
	client, err = net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		client.Close()
		t.Fatal(r.err)
	}
	server = r.c
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestGet(t *testing.T) {
	client, server := socketPair(t)
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcpLn.Close()
	tcpConn, err := net.Dial("tcp", tcpLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcpConn.Close()
	pipeA, pipeB := net.Pipe()
	defer pipeA.Close()
	defer pipeB.Close()

	self := Cred{UID: os.Geteuid(), GID: os.Getegid(), PID: os.Getpid()}
	tests := []struct {
		name    string
		conn    net.Conn
		want    Cred
		wantErr bool
	}{
		{name: "server sees client", conn: server, want: self},
		{name: "client sees server", conn: client, want: self},
		{name: "tcp conn", conn: tcpConn, wantErr: true},
		{name: "in-memory pipe", conn: pipeA, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Get(tc.conn)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Get() err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("Get() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// noSuchPID is above every platform's pid limit.
const noSuchPID = 1 << 30

func TestInGroup(t *testing.T) {
	groups, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	// A gid held neither as primary nor supplementary.
	unheld := 54321
	for slices.Contains(groups, unheld) || unheld == os.Getegid() {
		unheld++
	}
	self := Cred{UID: os.Geteuid(), GID: os.Getegid(), PID: os.Getpid()}

	tests := []struct {
		name string
		cred func(t *testing.T) Cred
		gid  int
		want bool
	}{
		{name: "primary gid", cred: func(*testing.T) Cred { return self }, gid: os.Getegid(), want: true},
		{name: "unheld gid", cred: func(*testing.T) Cred { return self }, gid: unheld, want: false},
		{name: "unknown pid checks primary only", cred: func(*testing.T) Cred { return Cred{GID: 7, PID: -1} }, gid: 7, want: true},
		{name: "unknown pid fails closed", cred: func(*testing.T) Cred { return Cred{GID: 7, PID: -1} }, gid: 8, want: false},
		{name: "exited peer fails closed", cred: func(*testing.T) Cred { return Cred{GID: 7, PID: noSuchPID} }, gid: 8, want: false},
		{name: "supplementary group", cred: supplementaryPeer, gid: 4242, want: true},
		{name: "supplementary peer unheld gid", cred: supplementaryPeer, gid: unheld, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cred(t)
			if got := c.InGroup(tc.gid); got != tc.want {
				t.Errorf("%+v.InGroup(%d) = %v, want %v", c, tc.gid, got, tc.want)
			}
		})
	}
}

// supplementaryPeer starts a child whose only supplementary group is 4242,
// which needs root to arrange.
func supplementaryPeer(t *testing.T) Cred {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("setting supplementary groups needs root")
	}
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{4242}}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return Cred{UID: 0, GID: 0, PID: cmd.Process.Pid}
}
