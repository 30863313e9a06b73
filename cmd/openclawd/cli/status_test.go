package cli

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/termtext"
	"github.com/openclawd/openclawd/localapi/apitype"
)

func TestPrintStatus(t *testing.T) {
	tick := time.Now().Add(-12 * time.Second)
	tests := []struct {
		name string
		st   apitype.Status
		want []string
		not  []string
	}{
		{"healthy", apitype.Status{State: "running", Healthy: true, Version: "1.0", PID: 10, UptimeS: 7300,
			Gateway: apitype.Gateway{State: "running", PID: 11, Port: 18789, UptimeS: 60, Restarts: 2},
			Health:  apitype.Health{Live: true, Started: true, Version: "2026.9.6", Deep: apitype.Deep{Enabled: true, HelloOK: true, LastTick: &tick}}},
			[]string{"● openclawd is running; the gateway is healthy", "up 2h01m", "pid 11, up 1m0s, port 18789 (loopback), 2 restarts", "version 2026.9.6", "websocket ok (last tick 12s ago)"},
			[]string{"What to do", "\x1b["}},
		{"failed with a fix", apitype.Status{State: "running", Gateway: apitype.Gateway{State: "failed", Port: 1,
			LastExit: &apitype.Exit{Code: 78, At: time.Now(), Reason: "refused its configuration"}},
			Warnings:  []apitype.Warning{{Code: "config_invalid", Severity: "error", Text: "bad key", Fix: "Fix it"}},
			NextSteps: []string{"Fix it"}},
			[]string{"✗ openclawd is running; the gateway is failed", "not live", "last exit", "refused its configuration", "error [config_invalid] bad key", "What to do:", "→ Fix it"}, nil},
		{"not running", apitype.Status{State: "not_running", NextSteps: []string{"Start it"}},
			[]string{"✗ openclawd is not running", "→ Start it"}, []string{"gateway "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printStatus(&b, tt.st, palette{})
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if n := strings.Count(out, "\n"); n > 12 {
				t.Errorf("%d lines; status must fit one short screen", n)
			}
		})
	}
}

func TestUsageAndUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := Main([]string{"bogus"}, &out, &errb); rc != ExitUsage || !strings.Contains(errb.String(), `unknown command "bogus"`) {
		t.Errorf("rc %d stderr %q", rc, errb.String())
	}
	out.Reset()
	if rc := Main([]string{"help"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "status") {
		t.Errorf("help: rc %d out %q", rc, out.String())
	}
}

// hostile is what a gateway, a remote peer or the service user could put in
// any status string: a window-title OSC, a screen clear, a carriage return
// to overwrite the line, a bidi override, and line breaks.
const hostile = "ok\x1b]0;pwned\x07\x1b[2J\r\u202eevil\u202c\tx\ny"

// TestPrintStatusCleansText fills every string of a Status (found by
// reflection, so a new field is covered too) with hostile text.
func TestPrintStatusCleansText(t *testing.T) {
	render := func(fill string) string {
		var st apitype.Status
		fillStrings(reflect.ValueOf(&st).Elem(), fill)
		st.Healthy, st.Health.Live = false, false // show why and last error
		var b bytes.Buffer
		printStatus(&b, st, palette{})
		return b.String()
	}
	out, plain := render(hostile), render("v")
	for _, bad := range []string{"\x1b", "\x07", "\r", "\t", "\u202e", "\u202c", "pwned"} {
		if strings.Contains(out, bad) {
			t.Errorf("output has %q:\n%q", bad, out)
		}
	}
	if !strings.Contains(out, "okevil x y") {
		t.Errorf("output lacks the cleaned text %q:\n%s", "okevil x y", out)
	}
	if got, want := strings.Count(out, "\n"), strings.Count(plain, "\n"); got != want {
		t.Errorf("%d lines; want %d, as with plain text: a newline got through:\n%s", got, want, out)
	}
}

// TestCleanStatusEveryString: after cleanStatus no string field holds the
// raw text, and the caller's Status is left as it was.
func TestCleanStatusEveryString(t *testing.T) {
	var st apitype.Status
	fillStrings(reflect.ValueOf(&st).Elem(), hostile)
	clean := cleanStatus(st)
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			if v.String() != termtext.Clean(hostile) {
				t.Errorf("%s = %q; not cleaned", path, v.String())
			}
		case reflect.Pointer:
			if !v.IsNil() {
				walk(path, v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(path+"."+v.Type().Field(i).Name, v.Field(i))
				}
			}
		}
	}
	walk("Status", reflect.ValueOf(clean))
	if st.Warnings[0].Text != hostile || st.TLS.Names[0].Check.Detail != hostile || st.Gateway.LastExit.Reason != hostile {
		t.Error("cleanStatus changed the caller's Status (the --json output must stay as received)")
	}
}

// fillStrings sets every string under v to s, allocating pointers and
// one-element slices on the way; times are set to now.
func fillStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillStrings(v.Elem(), s)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillStrings(v.Index(0), s)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Now()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillStrings(v.Field(i), s)
			}
		}
	}
}
