package sockets

import (
	"bufio"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestLoopback(t *testing.T) {
	tests := []struct {
		name string
		addr string
		want bool
	}{
		{"ipv4 loopback", "127.0.0.1:80", true},
		{"ipv4 loopback net", "127.0.0.53:53", true},
		{"ipv6 loopback", "[::1]:80", true},
		{"v4-mapped loopback", "[::ffff:127.0.0.1]:80", true},
		{"ipv4 wildcard", "0.0.0.0:80", false},
		{"ipv6 wildcard", "[::]:80", false},
		{"v4-mapped wildcard", "[::ffff:0.0.0.0]:80", false},
		{"lan address", "192.168.1.10:80", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := Listener{Addr: netip.MustParseAddrPort(tc.addr)}
			if got := l.Loopback(); got != tc.want {
				t.Errorf("Listener{%s}.Loopback() = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestProcessTreeHelpers(t *testing.T) {
	// 1 -> 10 -> 11 -> 12 ; 10 -> 13 (setsid, own group) ; 20 unrelated.
	procs := []proc{
		{pid: 1, ppid: 0, pgid: 1},
		{pid: 10, ppid: 1, pgid: 10},
		{pid: 11, ppid: 10, pgid: 10},
		{pid: 12, ppid: 11, pgid: 10},
		{pid: 13, ppid: 10, pgid: 13},
		{pid: 20, ppid: 1, pgid: 20},
	}
	tests := []struct {
		name string
		fn   func() []int
		want []int
	}{
		{"group of leader", func() []int { return inGroup(procs, 10) }, []int{10, 11, 12}},
		{"group after setsid", func() []int { return inGroup(procs, 13) }, []int{13}},
		{"empty group", func() []int { return inGroup(procs, 99) }, nil},
		{"descendants follow setsid", func() []int { return descendantsOf(procs, 10) }, []int{11, 12, 13}},
		{"descendants of leaf", func() []int { return descendantsOf(procs, 12) }, nil},
		{"descendants of unknown pid", func() []int { return descendantsOf(procs, 99) }, nil},
		{"cycle terminates", func() []int { return descendantsOf([]proc{{pid: 2, ppid: 3}, {pid: 3, ppid: 2}}, 2) }, []int{3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.fn(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseLsof(t *testing.T) {
	const sample = `p501
f7
tIPv4
n127.0.0.1:18789
f8
tIPv6
n[::1]:18789
f9
tIPv6
n*:5000
p502
f3
tIPv4
n127.0.0.1:18789
f4
tIPv4
n*:7000
`
	tests := []struct {
		name    string
		in      string
		want    []Listener
		wantErr bool
	}{
		{
			name: "shared socket merges pids; wildcard uses type",
			in:   sample,
			want: []Listener{
				{Addr: netip.MustParseAddrPort("127.0.0.1:18789"), UID: -1, PIDs: []int{501, 502}},
				{Addr: netip.MustParseAddrPort("[::1]:18789"), UID: -1, PIDs: []int{501}},
				{Addr: netip.MustParseAddrPort("[::]:5000"), UID: -1, PIDs: []int{501}},
				{Addr: netip.MustParseAddrPort("0.0.0.0:7000"), UID: -1, PIDs: []int{502}},
			},
		},
		{name: "empty", in: "", want: nil},
		{name: "bad pid", in: "pabc\n", wantErr: true},
		{name: "bad address", in: "p1\nf3\ntIPv4\nnlocalhost:80\n", wantErr: true},
		{name: "bad wildcard port", in: "p1\nf3\ntIPv4\nn*:http\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLsof(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestTCPListenersFindsOwnSockets checks the real socket table: listeners
// opened here must be found, owned by this process, with the right scope.
func TestTCPListenersFindsOwnSockets(t *testing.T) {
	tests := []struct {
		name     string
		network  string
		addr     string
		loopback bool
	}{
		{"ipv4 loopback", "tcp4", "127.0.0.1:0", true},
		{"ipv6 loopback", "tcp6", "[::1]:0", true},
		{"ipv4 wildcard", "tcp4", "0.0.0.0:0", false},
		{"ipv6 wildcard", "tcp6", "[::]:0", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen(tc.network, tc.addr)
			if err != nil {
				if tc.network == "tcp6" {
					t.Skipf("no IPv6 here: %v", err)
				}
				t.Fatal(err)
			}
			defer ln.Close()
			want, err := netip.ParseAddrPort(ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}

			ls, err := TCPListeners(int(want.Port()))
			if err != nil {
				t.Fatalf("TCPListeners: %v", err)
			}
			for _, l := range ls {
				if l.Addr.Port() != want.Port() {
					t.Errorf("TCPListeners(%d) returned port %d", want.Port(), l.Addr.Port())
				}
			}
			checkFound(t, "TCPListeners", ls, want, tc.loopback)

			mine, err := ListenersOf([]int{os.Getpid()})
			if err != nil {
				t.Fatalf("ListenersOf: %v", err)
			}
			checkFound(t, "ListenersOf", mine, want, tc.loopback)
		})
	}
}

func checkFound(t *testing.T, fn string, ls []Listener, want netip.AddrPort, loopback bool) {
	t.Helper()
	i := slices.IndexFunc(ls, func(l Listener) bool { return l.Addr == want })
	if i < 0 {
		t.Fatalf("%s: %v not found in %+v", fn, want, ls)
	}
	l := ls[i]
	if !slices.Contains(l.PIDs, os.Getpid()) {
		t.Errorf("%s: %v PIDs = %v, want to contain %d", fn, want, l.PIDs, os.Getpid())
	}
	if l.Loopback() != loopback {
		t.Errorf("%s: %v Loopback() = %v, want %v", fn, want, l.Loopback(), loopback)
	}
	if runtime.GOOS == "linux" && l.Inode == 0 {
		t.Errorf("%s: %v has no inode", fn, want)
	}
}

func TestListenersOfNoSockets(t *testing.T) {
	child := startChild(t, "sleep", "60")
	tests := []struct {
		name string
		pids []int
	}{
		{"no pids", nil},
		{"process without sockets", []int{child.Process.Pid}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := ListenersOf(tc.pids)
			if err != nil {
				t.Fatal(err)
			}
			if len(ls) != 0 {
				t.Errorf("ListenersOf(%v) = %+v, want none", tc.pids, ls)
			}
		})
	}
}

// startChild starts name in its own process group and kills the group at
// cleanup.
func startChild(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	return cmd
}

// startShell runs script under sh in its own process group and returns the
// pid the script prints first, so the test knows its grandchild exists.
func startShell(t *testing.T, script string) (sh, printed int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err == nil {
		printed, err = strconv.Atoi(strings.TrimSpace(line))
	}
	t.Cleanup(func() {
		if printed > 0 {
			syscall.Kill(printed, syscall.SIGKILL) // may be in another session
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	if err != nil {
		t.Fatalf("reading grandchild pid: %v", err)
	}
	return cmd.Process.Pid, printed
}

func TestProcessGroupAndDescendants(t *testing.T) {
	child := startChild(t, "sleep", "60")
	pid := child.Process.Pid
	sh, grandchild := startShell(t, "sleep 60 & echo $!; wait")

	var escaped, escapedParent int
	if _, err := exec.LookPath("setsid"); err == nil {
		// setsid is not a group leader here, so it calls setsid(2) and execs
		// without forking; the inner sh prints its pid only after that.
		escapedParent, escaped = startShell(t, `setsid sh -c 'echo $$; exec sleep 60' & wait`)
	}

	tests := []struct {
		name    string
		skip    bool
		fn      func() ([]int, error)
		has     []int
		hasNot  []int
		exactly []int
	}{
		{name: "group of setpgid child", fn: func() ([]int, error) { return ProcessGroup(pid) }, exactly: []int{pid}},
		{name: "child left our group", fn: func() ([]int, error) { return ProcessGroup(syscall.Getpgrp()) }, has: []int{os.Getpid()}, hasNot: []int{pid, sh}},
		{name: "shell group includes background job", fn: func() ([]int, error) { return ProcessGroup(sh) }, exactly: []int{sh, grandchild}},
		{name: "our descendants", fn: func() ([]int, error) { return Descendants(os.Getpid()) }, has: []int{pid, sh, grandchild}, hasNot: []int{os.Getpid()}},
		{name: "shell descendants", fn: func() ([]int, error) { return Descendants(sh) }, exactly: []int{grandchild}},
		{name: "leaf has none", fn: func() ([]int, error) { return Descendants(pid) }, exactly: nil},
		{name: "setsid leaves the group", skip: escaped == 0, fn: func() ([]int, error) { return ProcessGroup(escapedParent) }, exactly: []int{escapedParent}},
		{name: "descendants follow setsid", skip: escaped == 0, fn: func() ([]int, error) { return Descendants(escapedParent) }, exactly: []int{escaped}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("setsid not installed")
			}
			got, err := tc.fn()
			if err != nil {
				t.Fatal(err)
			}
			if tc.has == nil && tc.hasNot == nil && !slices.Equal(got, tc.exactly) {
				t.Errorf("got %v, want %v", got, tc.exactly)
			}
			for _, p := range tc.has {
				if !slices.Contains(got, p) {
					t.Errorf("got %v, want it to contain %d", got, p)
				}
			}
			for _, p := range tc.hasNot {
				if slices.Contains(got, p) {
					t.Errorf("got %v, want it without %d", got, p)
				}
			}
		})
	}
}

// noSuchPID is above every platform's pid limit.
const noSuchPID = 1 << 30

func TestStartTime(t *testing.T) {
	child := startChild(t, "sleep", "60")
	tests := []struct {
		name    string
		pid     int
		wantErr error
	}{
		{"self", os.Getpid(), nil},
		{"child", child.Process.Pid, nil},
		{"missing pid", noSuchPID, fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first, err := StartTime(tc.pid)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("StartTime(%d) err = %v, want %v", tc.pid, err, tc.wantErr)
				}
				return
			}
			if err != nil || first == "" {
				t.Fatalf("StartTime(%d) = %q, %v", tc.pid, first, err)
			}
			again, err := StartTime(tc.pid)
			if err != nil || again != first {
				t.Errorf("StartTime(%d) changed: %q then %q (%v)", tc.pid, first, again, err)
			}
		})
	}
}

func TestProcessName(t *testing.T) {
	child := startChild(t, "sleep", "60")
	tests := []struct {
		name string
		pid  int
		want string
	}{
		{"child", child.Process.Pid, "sleep"},
		{"missing pid", noSuchPID, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ProcessName(tc.pid); got != tc.want {
				t.Errorf("ProcessName(%d) = %q, want %q", tc.pid, got, tc.want)
			}
		})
	}
}

func BenchmarkTCPListeners(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	for b.Loop() {
		if _, err := TCPListeners(0); err != nil {
			b.Fatal(err)
		}
	}
}
