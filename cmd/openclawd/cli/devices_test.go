package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseDeviceList(t *testing.T) {
	const out = `{
  "pending": [{"requestId":"r-1","deviceId":"0123456789abcdef0123","displayName":"","clientId":"openclaw-control-ui","remoteIp":"10.0.0.10","ts":1796000000000,"isRepair":false}],
  "paired": [{"deviceId":"feedface","displayName":"Chrome","clientId":"openclaw-control-ui","remoteIp":"10.0.0.10","roles":["operator"],"scopes":["operator.admin"],"approvedAtMs":1796000001000,"lastSeenAtMs":1796000002000,"tokens":[{"role":"operator","token":"DEVICE-SECRET"}]}]
}`
	tests := []struct {
		name, out string
		pending   int
		paired    int
		err       string
	}{
		{name: "one of each", out: out, pending: 1, paired: 1},
		{name: "empty", out: `{"pending":[],"paired":[]}`},
		{name: "not json", out: "Error: gateway closed\n", err: "no JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := parseDeviceList([]byte(tc.out))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(l.Pending) != tc.pending || len(l.Paired) != tc.paired {
				t.Fatalf("got %+v, %v", l, err)
			}
		})
	}

	l, _ := parseDeviceList([]byte(out))
	p := l.Pending[0]
	if p.RequestID != "r-1" || p.IP != "10.0.0.10" || p.Name != "openclaw-control-ui" || !p.RequestedAt.Equal(time.UnixMilli(1796000000000)) {
		t.Errorf("pending = %+v", p)
	}
	var b bytes.Buffer
	printDevices(&b, l, time.UnixMilli(1796000000000).Add(90*time.Second))
	for _, want := range []string{"r-1", "10.0.0.10", "1m ago", "feedface", "Chrome", "operator.admin"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "DEVICE-SECRET") {
		t.Errorf("the table shows a device token:\n%s", b.String())
	}
}

func TestDevicesNeedsID(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "approve", args: []string{"approve"}, want: "give the requestId; `openclawd devices list`"},
		{name: "reject", args: []string{"reject", "--config", "/nonexistent"}, want: "give the requestId"},
		{name: "revoke", args: []string{"revoke"}, want: "give the deviceId"},
		{name: "unknown", args: []string{"latest"}, want: "unknown subcommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if rc := devicesCmd(tc.args, &out, &errb); rc != ExitUsage || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("rc %d, stderr %q; want %d and %q", rc, errb.String(), ExitUsage, tc.want)
			}
		})
	}
}

func TestFailReason(t *testing.T) {
	tests := []struct{ name, out, want string }{
		{name: "string error", out: `{"ok":false,"error":"unknown requestId"}`, want: ": unknown requestId"},
		{name: "object error", out: `{"error":{"code":"X","message":"no such device"}}`, want: ": no such device"},
		{name: "token not echoed", out: `{"device":{"tokens":[{"token":"SECRET"}]}}`, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := failReason([]byte(tc.out)); got != tc.want {
				t.Fatalf("got %q; want %q", got, tc.want)
			}
		})
	}
}
