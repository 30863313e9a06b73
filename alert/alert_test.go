package alert

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclawd/openclawd/internal/alerttest"
)

// The URL forms the docs give work against real receivers on loopback:
// shoutrrr's generic webhook, ntfy's HTTP API and SMTP.
func TestShoutrrrForms(t *testing.T) {
	web, ntfy, mail := alerttest.NewHTTP(t), alerttest.NewHTTP(t), alerttest.NewSMTP(t)
	tests := []struct {
		name string
		url  string
		got  func() []alerttest.Received
	}{
		{"generic webhook", "generic+" + web.URL + "/hook", web.Got},
		{"ntfy", "ntfy://" + ntfy.Host + "/alerts?scheme=http", ntfy.Got},
		{"smtp", fmt.Sprintf("smtp://%s/?from=bot@example.com&to=owner@example.com&auth=None&encryption=None&usestarttls=No", mail.Addr), mail.Got},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateURL(tt.url); err != nil {
				t.Fatalf("ValidateURL: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := shoutrrrSend(ctx, tt.url, "openclawd on h: gateway_down", "PROBLEM gateway_down: it is down"); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := tt.got()
			if len(got) != 1 || !strings.Contains(got[0].Body, "PROBLEM gateway_down: it is down") {
				t.Fatalf("received %+v", got)
			}
		})
	}
}

func TestValidateURL(t *testing.T) {
	tests := []struct{ name, url, want string }{
		{"unknown service", "pager://x", `"pager" is not a known service`},
		{"no scheme", "just-a-topic", "not a URL with a service scheme"},
		{"placeholder is fine", "ntfy://ntfy.sh/${OPENCLAWD_TOPIC}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateURL(tt.url)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateURL(%q) = %v", tt.url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidateURL(%q) = %v, want %q", tt.url, err, tt.want)
			}
		})
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Observe's decisions: a condition opens after its delay, once; it
// resolves after being gone for ResolveAfter, once; a blip back resets the
// resolve; the state survives a new Manager on the same file.
func TestObserve(t *testing.T) {
	down := Condition{Key: "gateway_down", Severity: Error, Text: "down", Delay: 10 * time.Second}
	type step struct {
		after time.Duration
		conds []Condition
		want  []string // kinds queued by this step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"short outage is no news", []step{{0, []Condition{down}, nil}, {5 * time.Second, nil, nil}, {time.Minute, nil, nil}}},
		{"outage then recovery", []step{
			{0, []Condition{down}, nil}, {10 * time.Second, []Condition{down}, []string{KindProblem}},
			{time.Minute, []Condition{down}, nil}, {time.Second, nil, nil}, {59 * time.Second, nil, nil},
			{time.Second, nil, []string{KindResolved}}, {time.Hour, nil, nil}}},
		{"a blip back restarts the resolve", []step{
			{0, []Condition{down}, nil}, {10 * time.Second, []Condition{down}, []string{KindProblem}},
			{time.Second, nil, nil}, {50 * time.Second, []Condition{down}, nil}, {time.Second, nil, nil},
			{50 * time.Second, nil, nil}, {10 * time.Second, nil, []string{KindResolved}}}},
		{"no delay opens at once", []step{{0, []Condition{{Key: "disk_low", Severity: Warning, Text: "full"}}, []string{KindProblem}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
			path := filepath.Join(t.TempDir(), "alerts.json")
			var m *Manager
			for i, s := range tt.steps {
				c.add(s.after)
				// A new Manager each step: what matters survives restarts.
				var err error
				if m == nil || i%2 == 1 {
					pend := map[string]time.Time{}
					if m != nil {
						pend = m.pending
					}
					m, err = New(Options{Path: path, Host: "h", Channels: []Channel{{Name: "phone", URL: "ntfy://x/y"}}, Now: c.now})
					if err != nil {
						t.Fatal(err)
					}
					m.pending = pend // a pending (unannounced) condition is in memory only
				}
				before := len(m.st.Outbox)
				m.Observe(s.conds)
				var kinds []string
				for _, msg := range m.st.Outbox[before:] {
					kinds = append(kinds, msg.Kind)
				}
				if strings.Join(kinds, ",") != strings.Join(s.want, ",") {
					t.Fatalf("step %d: queued %v, want %v", i, kinds, s.want)
				}
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("alerts file mode %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

// A failing channel keeps its messages and backs off; when it works
// again everything queued goes out in one message.
func TestDeliveryBacksOffAndBatches(t *testing.T) {
	web := alerttest.NewHTTP(t)
	web.SetDown(true)
	c := &clock{t: time.Now()}
	m, err := New(Options{Path: filepath.Join(t.TempDir(), "a.json"), Host: "h", Now: c.now,
		Channels: []Channel{{Name: "hook", URL: "generic+" + web.URL + "/${OPENCLAWD_PATH}"}},
		Expand:   Expander(map[string]string{"OPENCLAWD_PATH": "secret-path-123"}, "/etc/openclawd/env")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m.Observe([]Condition{{Key: "disk_low", Severity: Warning, Text: "full"}})
	if next := m.deliver(ctx); next.Sub(c.now()) != firstBackoff {
		t.Errorf("next try in %s, want %s", next.Sub(c.now()), firstBackoff)
	}
	st := m.Status()
	if st.Channels[0].Pending != 1 || st.Channels[0].LastError == "" || strings.Contains(st.Channels[0].LastError, "secret-path-123") {
		t.Fatalf("after a failure: %+v", st.Channels[0])
	}
	m.Observe([]Condition{{Key: "disk_low", Severity: Warning, Text: "full"}, {Key: "memory_low", Severity: Warning, Text: "tight"}})
	c.add(5 * time.Second)
	m.deliver(ctx) // not due yet
	if n := web.Refused(); n != 1 {
		t.Fatalf("%d tries before the backoff ended, want 1", n)
	}
	web.SetDown(false)
	c.add(5 * time.Second)
	m.deliver(ctx)
	got := web.Got()
	if len(got) != 1 || !strings.Contains(got[0].Body, "disk_low") || !strings.Contains(got[0].Body, "memory_low") || got[0].Path != "/secret-path-123" {
		t.Fatalf("received %+v", got)
	}
	if st := m.Status(); st.Channels[0].Pending != 0 || st.Channels[0].LastError != "" || st.Channels[0].Sent != 2 {
		t.Fatalf("after delivery: %+v", st.Channels[0])
	}
}
