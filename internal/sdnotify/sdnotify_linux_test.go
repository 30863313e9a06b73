package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// listen opens a unixgram socket for Notify to send to and returns the
// NOTIFY_SOCKET value that names it.
func listen(t *testing.T, name string) (*net.UnixConn, string) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, name
}

func TestNotify(t *testing.T) {
	abstract := "@openclawd-sdnotify-test-" + strconv.Itoa(os.Getpid())
	tests := []struct {
		name    string
		socket  func(t *testing.T) (*net.UnixConn, string) // nil conn: nothing listens
		state   string
		wantOK  bool
		wantErr bool
	}{
		{
			name:   "not under systemd",
			socket: func(t *testing.T) (*net.UnixConn, string) { return nil, "" },
			state:  "READY=1",
		},
		{
			name:   "path socket",
			socket: func(t *testing.T) (*net.UnixConn, string) { return listen(t, filepath.Join(t.TempDir(), "notify")) },
			state:  "READY=1",
			wantOK: true,
		},
		{
			name:   "abstract socket",
			socket: func(t *testing.T) (*net.UnixConn, string) { return listen(t, abstract) },
			state:  "WATCHDOG=1",
			wantOK: true,
		},
		{
			name:   "several assignments in one datagram",
			socket: func(t *testing.T) (*net.UnixConn, string) { return listen(t, filepath.Join(t.TempDir(), "notify")) },
			state:  "STOPPING=1\nSTATUS=shutting down",
			wantOK: true,
		},
		{
			name: "nobody listening",
			socket: func(t *testing.T) (*net.UnixConn, string) {
				return nil, filepath.Join(t.TempDir(), "missing")
			},
			state:   "READY=1",
			wantErr: true,
		},
		{
			name:    "unsupported address",
			socket:  func(t *testing.T) (*net.UnixConn, string) { return nil, "vsock:2:1234" },
			state:   "READY=1",
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, env := tc.socket(t)
			t.Setenv("NOTIFY_SOCKET", env)

			ok, err := Notify(tc.state)
			if ok != tc.wantOK || (err != nil) != tc.wantErr {
				t.Fatalf("Notify(%q) = %v, %v; want %v, err %v", tc.state, ok, err, tc.wantOK, tc.wantErr)
			}
			if conn == nil {
				return
			}
			if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("receiving notification: %v", err)
			}
			if got := string(buf[:n]); got != tc.state {
				t.Errorf("received %q, want %q", got, tc.state)
			}
		})
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		name string
		usec string
		pid  string
		want time.Duration
	}{
		{name: "no watchdog", want: 0},
		{name: "watchdog for any pid", usec: "30000000", want: 15 * time.Second},
		{name: "watchdog for us", usec: "20000000", pid: self, want: 10 * time.Second},
		{name: "watchdog for another pid", usec: "30000000", pid: "1", want: 0},
		{name: "malformed pid", usec: "30000000", pid: "x", want: 0},
		{name: "zero", usec: "0", want: 0},
		{name: "negative", usec: "-5", want: 0},
		{name: "malformed usec", usec: "30s", want: 0},
		{name: "overflowing usec", usec: "18446744073709551615", want: 0},
		{name: "odd microseconds", usec: "3", want: 1500 * time.Nanosecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			if got := WatchdogInterval(); got != tc.want {
				t.Errorf("WatchdogInterval() with USEC=%q PID=%q = %v, want %v", tc.usec, tc.pid, got, tc.want)
			}
		})
	}
}
