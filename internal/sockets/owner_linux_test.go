package sockets

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// listenEnv makes the test binary a plain listener (see TestMain): it
// listens on the addresses given, prints "ready", and blocks.
const listenEnv = "SOCKETS_TEST_LISTEN"

func TestMain(m *testing.M) {
	if addrs := os.Getenv(listenEnv); addrs != "" {
		for _, a := range strings.Split(addrs, ",") {
			network := "tcp4" // "tcp" would make 0.0.0.0 a dual-stack [::]
			if strings.HasPrefix(a, "[") {
				network = "tcp6"
			}
			if _, err := net.Listen(network, a); err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
		fmt.Println("ready")
		select {}
	}
	os.Exit(m.Run())
}

// listener runs this test binary as a listener on addrs, as uid (-1: ours),
// and returns its pid once it listens. It is killed at cleanup.
func listener(tb testing.TB, uid int, addrs ...string) int {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	if uid >= 0 {
		// The build cache is private to root: run a copy another uid can reach.
		dir, err := os.MkdirTemp("", "sockets-listener")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { os.RemoveAll(dir) })
		cp := filepath.Join(dir, "listener")
		if err := copyFile(exe, cp); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		cmd = exec.Command(cp)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	cmd.Env = []string{listenEnv + "=" + strings.Join(addrs, ",")}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		tb.Fatalf("listener on %v: %q", addrs, line)
	}
	return cmd.Process.Pid
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestOwnedBy(t *testing.T) {
	self := os.Getpid()
	// squatter checks that err names exactly one foreign listener, held by
	// pid squat, with uid and address family as given.
	squatter := func(uid int, v6 bool) func(t *testing.T, err error, squat int) {
		return func(t *testing.T, err error, squat int) {
			var fe *ForeignListenerError
			if !errors.As(err, &fe) || !errors.Is(err, ErrForeignListener) || len(fe.Foreign) != 1 {
				t.Fatalf("OwnedBy = %v, want one foreign listener", err)
			}
			f := fe.Foreign[0]
			if f.UID != uid || f.Addr.Addr().Is6() != v6 || f.Inode == 0 {
				t.Errorf("foreign = %+v, want uid %d, v6 %v, an inode", f, uid, v6)
			}
			if len(f.Holders) != 1 || f.Holders[0].PID != squat || f.Holders[0].Command == "" {
				t.Errorf("holders = %+v, want pid %d with its command", f.Holders, squat)
			}
			if want := fmt.Sprintf("pid %d (%s) on %s", squat, f.Holders[0].Command, f.Addr); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T) (port int, pids []int, squat int)
		check func(t *testing.T, err error, squat int)
	}{
		{
			name:  "nothing listens",
			setup: func(t *testing.T) (int, []int, int) { return freePort(t), []int{self}, 0 },
			check: func(t *testing.T, err error, _ int) {
				if !errors.Is(err, ErrNoListener) {
					t.Fatalf("OwnedBy = %v, want ErrNoListener", err)
				}
			},
		},
		{
			name: "our own listener",
			setup: func(t *testing.T) (int, []int, int) {
				return listen(t, "127.0.0.1:0"), []int{self}, 0
			},
		},
		{
			name: "child on both loopbacks, trusted",
			setup: func(t *testing.T) (int, []int, int) {
				port := freePort(t)
				p := listener(t, -1, fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("[::1]:%d", port))
				return port, []int{self, p}, 0
			},
		},
		{
			name: "same-uid squatter is named by pid",
			setup: func(t *testing.T) (int, []int, int) {
				port := freePort(t)
				return port, []int{self}, listener(t, -1, fmt.Sprintf("127.0.0.1:%d", port))
			},
			check: squatter(os.Getuid(), false),
		},
		{
			name: "squatter on ::1 beside our 127.0.0.1",
			setup: func(t *testing.T) (int, []int, int) {
				port := listen(t, "127.0.0.1:0")
				return port, []int{self}, listener(t, -1, fmt.Sprintf("[::1]:%d", port))
			},
			check: squatter(os.Getuid(), true),
		},
		{
			name: "other uid on 0.0.0.0",
			setup: func(t *testing.T) (int, []int, int) {
				if os.Getuid() != 0 {
					t.Skip("needs root to run a listener as another uid")
				}
				port := freePort(t)
				return port, []int{self}, listener(t, 65533, fmt.Sprintf("0.0.0.0:%d", port))
			},
			// As root the test reads its fd table; the service user could
			// not, and then the uid and inode name it (TestForeignString).
			check: squatter(65533, false),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port, pids, squat := tc.setup(t)
			err := OwnedBy(port, pids)
			if tc.check == nil {
				if err != nil {
					t.Fatalf("OwnedBy = %v, want nil", err)
				}
				return
			}
			tc.check(t, err, squat)
		})
	}
}

func TestForeignString(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		f    Foreign
		want string
	}{
		{"holder known", Foreign{Addr: ap("127.0.0.1:80"), Inode: 7, UID: 0, Holders: []Holder{{PID: 12, Command: "nc"}}}, "pid 12 (nc) on 127.0.0.1:80"},
		{"unreadable, uid named", Foreign{Addr: ap("[::1]:80"), Inode: 7, UID: 0}, "a process of uid 0 (root) (socket inode 7) on [::1]:80"},
		{"unknown uid", Foreign{Addr: ap("0.0.0.0:80"), Inode: 7, UID: 654321}, "a process of uid 654321 (socket inode 7) on 0.0.0.0:80"},
		{"darwin, nothing known", Foreign{Addr: ap("0.0.0.0:80"), UID: -1}, "a process openclawd cannot identify on 0.0.0.0:80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// listen opens a listener in this process until cleanup and returns its port.
func listen(tb testing.TB, addr string) int {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// BenchmarkOwnedBy is the cost of one listener-ownership check for a tree
// of three processes (this one plus two listeners on both loopbacks), as
// the health probe pays it before each check: Tree plus OwnedBy.
func BenchmarkOwnedBy(b *testing.B) {
	port := freePort(b)
	l1 := listener(b, -1, fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("[::1]:%d", port))
	l2 := listener(b, -1, "127.0.0.1:0")
	for b.Loop() {
		pids, err := Tree(os.Getpid(), 0)
		if err != nil {
			b.Fatal(err)
		}
		if !slices.Contains(pids, l1) || !slices.Contains(pids, l2) {
			b.Fatalf("tree %v lacks %d or %d", pids, l1, l2)
		}
		if err := OwnedBy(port, pids); err != nil {
			b.Fatal(err)
		}
	}
}
