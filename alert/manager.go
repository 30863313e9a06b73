package alert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openclawd/openclawd/internal/fsutil"
)

// Channel is one place messages go.
type Channel struct {
	Name string
	// URL is a shoutrrr URL; ${NAME} in it is filled from Options.Expand
	// when sending, so the secret never lives in the config or the outbox.
	URL string
}

// Options configure a Manager.
type Options struct {
	Path     string    // the state file: open alerts, outbox, channel states
	Host     string    // named in every message
	Channels []Channel // may be empty: alerts still show in status
	// Heartbeat is the dead-man's switch URL (http or https): pinged every
	// HeartbeatEvery while no error is open, and sent <URL>/fail with the
	// open errors when one is. Empty means none.
	Heartbeat      string
	HeartbeatEvery time.Duration
	// ResolveAfter is how long a problem must stay gone to be resolved, so
	// a crash loop that is healthy for a moment stays one problem.
	ResolveAfter time.Duration
	// MinInterval is the least time between two sends to one channel;
	// messages due meanwhile go out together in the next.
	MinInterval time.Duration
	// MaxAge drops an undeliverable message after this long (the owner
	// learns how many were dropped with the next one that goes through).
	MaxAge time.Duration
	// Expand fills ${NAME} in a URL (from the env file). Nil leaves URLs
	// as they are.
	Expand func(string) (string, error)
	// Redact masks secrets in errors and logs.
	Redact func(string) string
	Log    *slog.Logger
	Now    func() time.Time
	// Send delivers one message; nil means shoutrrr. Ping calls a
	// heartbeat URL; nil means HTTP.
	Send func(ctx context.Context, url, title, body string) error
	Ping func(ctx context.Context, url, body string) error
}

// Defaults.
const (
	DefaultResolveAfter   = time.Minute
	DefaultMinInterval    = 30 * time.Second
	DefaultMaxAge         = 7 * 24 * time.Hour
	DefaultHeartbeatEvery = 5 * time.Minute
	maxQueue              = 200 // per channel
	sendTimeout           = 30 * time.Second
	firstBackoff          = 10 * time.Second
	maxBackoff            = 10 * time.Minute
)

// state is the file at Options.Path.
type state struct {
	Open      map[string]*Alert        `json:"open"`
	Outbox    []*Message               `json:"outbox"`
	Channels  map[string]*ChannelState `json:"channels"`
	Heartbeat *ChannelState            `json:"heartbeat,omitempty"`
}

// Manager keeps alerts and delivers them. Observe, Status and Test may be
// called from any goroutine.
type Manager struct {
	o   Options
	log *slog.Logger

	mu      sync.Mutex
	st      state
	pending map[string]time.Time // seen but not yet announced: first seen
	current map[string]Condition // as last observed
	nextHB  time.Time            // when the heartbeat is due; zero: now
	dirty   bool

	wake     chan struct{}
	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// New loads the state file, if any, and returns a Manager that delivers
// nothing until Start.
func New(o Options) (*Manager, error) {
	if o.Path == "" {
		return nil, errors.New("alert: no state file")
	}
	o.ResolveAfter = orDefault(o.ResolveAfter, DefaultResolveAfter)
	o.MinInterval = orDefault(o.MinInterval, DefaultMinInterval)
	o.MaxAge = orDefault(o.MaxAge, DefaultMaxAge)
	o.HeartbeatEvery = orDefault(o.HeartbeatEvery, DefaultHeartbeatEvery)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	if o.Send == nil {
		o.Send = shoutrrrSend
	}
	if o.Ping == nil {
		o.Ping = httpPing
	}
	m := &Manager{o: o, log: o.Log, pending: map[string]time.Time{}, current: map[string]Condition{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	if err := m.load(); err != nil {
		return nil, err
	}
	m.prune()
	return m, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (m *Manager) load() error {
	m.st = state{Open: map[string]*Alert{}, Channels: map[string]*ChannelState{}}
	b, err := os.ReadFile(m.o.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading alerts: %w", err)
	}
	if err := json.Unmarshal(b, &m.st); err != nil {
		// The outbox is worth less than a start: keep the bad file aside.
		bad := m.o.Path + ".bad"
		_ = os.Rename(m.o.Path, bad)
		m.log.Error("the alerts file is damaged; starting with an empty one", "file", m.o.Path, "kept_as", bad, "err", err)
		m.st = state{}
	}
	if m.st.Open == nil {
		m.st.Open = map[string]*Alert{}
	}
	if m.st.Channels == nil {
		m.st.Channels = map[string]*ChannelState{}
	}
	return nil
}

// prune drops messages for channels no longer configured; with the lock
// held or before Start.
func (m *Manager) prune() {
	names := map[string]bool{}
	for _, c := range m.o.Channels {
		names[c.Name] = true
		if m.st.Channels[c.Name] == nil {
			m.st.Channels[c.Name] = &ChannelState{}
		}
	}
	kept := m.st.Outbox[:0]
	for _, msg := range m.st.Outbox {
		if names[msg.Channel] {
			kept = append(kept, msg)
		}
	}
	m.st.Outbox = kept
	for n := range m.st.Channels {
		if !names[n] {
			delete(m.st.Channels, n)
		}
	}
	if m.o.Heartbeat == "" {
		m.st.Heartbeat = nil
	} else if m.st.Heartbeat == nil {
		m.st.Heartbeat = &ChannelState{}
	}
	m.dirty = true
}

// Reconfigure takes new channels and settings (after a config reload).
// Open alerts stay open; messages for removed channels are dropped.
func (m *Manager) Reconfigure(channels []Channel, heartbeat string, every, resolveAfter, minInterval time.Duration) {
	m.mu.Lock()
	m.o.Channels = channels
	m.o.Heartbeat = heartbeat
	m.o.HeartbeatEvery = orDefault(every, DefaultHeartbeatEvery)
	m.o.ResolveAfter = orDefault(resolveAfter, DefaultResolveAfter)
	m.o.MinInterval = orDefault(minInterval, DefaultMinInterval)
	m.prune()
	m.mu.Unlock()
	m.poke()
}

// Observe takes the conditions that hold now. A condition held for its
// Delay opens an alert and queues one problem message per channel; an
// open alert gone for ResolveAfter is resolved, with one message.
func (m *Manager) Observe(conds []Condition) {
	now := m.o.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	m.current = map[string]Condition{}
	errorsChanged := false
	for _, c := range conds {
		seen[c.Key] = true
		m.current[c.Key] = c
		if a := m.st.Open[c.Key]; a != nil {
			if !a.Gone.IsZero() {
				a.Gone = time.Time{}
				m.dirty = true
			}
			continue
		}
		first, ok := m.pending[c.Key]
		if !ok {
			first = now
			m.pending[c.Key] = now
		}
		if now.Sub(first) < c.Delay {
			continue
		}
		delete(m.pending, c.Key)
		a := &Alert{Key: c.Key, Severity: c.Severity, Text: c.Text, Fix: c.Fix, Since: first, Opened: now}
		m.st.Open[c.Key] = a
		m.log.Warn("alert: "+c.Text, "alert", c.Key, "severity", c.Severity)
		m.enqueue(KindProblem, a, c.Text, now)
		errorsChanged = errorsChanged || c.Severity == Error
	}
	for k := range m.pending {
		if !seen[k] {
			delete(m.pending, k)
		}
	}
	for k, a := range m.st.Open {
		if seen[k] {
			continue
		}
		if a.Gone.IsZero() {
			a.Gone = now
			m.dirty = true
		}
		if now.Sub(a.Gone) < m.o.ResolveAfter {
			continue
		}
		delete(m.st.Open, k)
		text := fmt.Sprintf("resolved after %s: %s", roundDur(a.Gone.Sub(a.Since)), a.Text)
		m.log.Info("alert resolved: "+a.Text, "alert", k, "lasted", roundDur(a.Gone.Sub(a.Since)))
		m.enqueue(KindResolved, a, text, now)
		errorsChanged = errorsChanged || a.Severity == Error
	}
	if errorsChanged {
		m.nextHB = time.Time{} // tell the heartbeat now
	}
	m.saveLocked()
	if m.dirty || errorsChanged {
		m.poke()
	}
}

func (m *Manager) enqueue(kind string, a *Alert, text string, now time.Time) {
	for _, c := range m.o.Channels {
		m.st.Outbox = append(m.st.Outbox, &Message{ID: newID(), Channel: c.Name, Kind: kind, Key: a.Key,
			Severity: a.Severity, Text: text, Fix: a.Fix, At: now})
	}
	m.bound()
	m.dirty = true
}

// bound keeps each channel's outbox under maxQueue, dropping the oldest.
func (m *Manager) bound() {
	count := map[string]int{}
	for _, msg := range m.st.Outbox {
		count[msg.Channel]++
	}
	kept := m.st.Outbox[:0]
	for _, msg := range m.st.Outbox {
		if count[msg.Channel] > maxQueue {
			count[msg.Channel]--
			if cs := m.st.Channels[msg.Channel]; cs != nil {
				cs.Dropped++
			}
			continue
		}
		kept = append(kept, msg)
	}
	m.st.Outbox = kept
}

func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// saveLocked writes the state if it changed; the outbox must survive a
// crash, so every change is written before it is acted on.
func (m *Manager) saveLocked() {
	if !m.dirty {
		return
	}
	b, err := json.MarshalIndent(m.st, "", "  ")
	if err == nil {
		err = fsutil.WriteFileAtomic(m.o.Path, b, 0o600)
	}
	if err != nil {
		m.log.Error("saving alerts", "file", m.o.Path, "err", err)
		return
	}
	m.dirty = false
}

// Status returns the open alerts (and those about to open are not shown)
// and each channel's delivery.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s Status
	for _, a := range m.st.Open {
		c := *a
		if cur, ok := m.current[a.Key]; ok {
			c.Text, c.Fix = cur.Text, cur.Fix // what holds now, not what was sent
		}
		s.Open = append(s.Open, c)
	}
	sort.Slice(s.Open, func(i, j int) bool {
		if s.Open[i].Severity != s.Open[j].Severity {
			return s.Open[i].Severity == Error
		}
		return s.Open[i].Since.Before(s.Open[j].Since)
	})
	for _, c := range m.o.Channels {
		cs := ChannelStatus{Name: c.Name, Service: service(c.URL)}
		if st := m.st.Channels[c.Name]; st != nil {
			cs.ChannelState = *st
		}
		for _, msg := range m.st.Outbox {
			if msg.Channel == c.Name {
				cs.Pending++
			}
		}
		s.Channels = append(s.Channels, cs)
	}
	if m.o.Heartbeat != "" && m.st.Heartbeat != nil {
		s.Heartbeat = &ChannelStatus{Name: "heartbeat", Service: service(m.o.Heartbeat), ChannelState: *m.st.Heartbeat}
	}
	return s
}

func service(u string) string {
	if i := strings.Index(u, "://"); i > 0 {
		return u[:i]
	}
	return ""
}

// Start runs delivery until ctx ends or Stop.
func (m *Manager) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	go m.loop(ctx)
}

// Stop ends delivery; what is queued stays on disk for the next start.
func (m *Manager) Stop(ctx context.Context) error {
	m.stopOnce.Do(func() {
		if m.cancel == nil {
			close(m.done)
			return
		}
		m.cancel()
	})
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			m.saveLocked()
			m.mu.Unlock()
			return
		case <-m.wake:
		case <-t.C:
		}
		next := m.deliver(ctx)
		if hb := m.heartbeat(ctx); hb.Before(next) {
			next = hb
		}
		t.Reset(max(time.Until(next), 50*time.Millisecond))
	}
}

// deliver sends what is due on every channel, and returns when to look
// again.
func (m *Manager) deliver(ctx context.Context) time.Time {
	now := m.o.Now()
	next := now.Add(time.Minute)
	m.mu.Lock()
	channels := slices.Clone(m.o.Channels)
	m.mu.Unlock()
	for _, c := range channels {
		if at := m.deliverTo(ctx, c, now); !at.IsZero() && at.Before(next) {
			next = at
		}
	}
	return next
}

// deliverTo sends every queued message of one channel as one, if the
// channel is due; it returns when it may be due next (zero: nothing queued).
func (m *Manager) deliverTo(ctx context.Context, c Channel, now time.Time) time.Time {
	m.mu.Lock()
	cs := m.st.Channels[c.Name]
	if cs == nil {
		cs = &ChannelState{}
		m.st.Channels[c.Name] = cs
	}
	var batch []*Message
	kept := m.st.Outbox[:0]
	for _, msg := range m.st.Outbox {
		if msg.Channel == c.Name && now.Sub(msg.At) > m.o.MaxAge {
			cs.Dropped++
			m.dirty = true
			continue
		}
		kept = append(kept, msg)
		if msg.Channel == c.Name {
			batch = append(batch, msg)
		}
	}
	m.st.Outbox = kept
	due := cs.NextTry
	if last := cs.LastOK.Add(m.o.MinInterval); last.After(due) {
		due = last
	}
	if len(batch) == 0 || now.Before(due) {
		m.saveLocked()
		m.mu.Unlock()
		if len(batch) == 0 {
			return time.Time{}
		}
		return due
	}
	dropped := cs.Dropped
	m.mu.Unlock()

	title, body := compose(m.o.Host, batch, dropped)
	err := m.send(ctx, c, title, body)
	if ctx.Err() != nil {
		return time.Time{}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.dirty = true
	if err != nil {
		msg := m.o.Redact(err.Error())
		if cs.failed(now, msg, backoff(cs.Attempts+1)) {
			m.log.Warn("alert channel failing; messages wait in the outbox", "channel", c.Name, "pending", len(batch), "err", msg)
		}
		m.saveLocked()
		return cs.NextTry
	}
	if since := cs.succeeded(now); !since.IsZero() {
		m.log.Info("alert channel works again", "channel", c.Name, "failed_for", roundDur(now.Sub(since)))
	}
	sent := map[string]bool{}
	for _, msg := range batch {
		sent[msg.ID] = true
	}
	m.st.Outbox = slices.DeleteFunc(m.st.Outbox, func(msg *Message) bool { return sent[msg.ID] })
	cs.Sent += len(batch)
	cs.Dropped -= dropped
	m.log.Info("alert sent", "channel", c.Name, "messages", len(batch), "title", title)
	m.saveLocked()
	return now.Add(m.o.MinInterval)
}

// failed records a failed try and when to try again; it says whether the
// channel was working until now (the failure worth a log line).
func (cs *ChannelState) failed(now time.Time, msg string, wait time.Duration) (first bool) {
	first = cs.FailingSince.IsZero()
	if first {
		cs.FailingSince = now
	}
	cs.LastTry, cs.LastError, cs.NextTry = now, msg, now.Add(wait)
	cs.Attempts++
	return first
}

// succeeded records a delivery; it returns since when the channel had
// been failing (zero if it was not).
func (cs *ChannelState) succeeded(now time.Time) (failingSince time.Time) {
	failingSince = cs.FailingSince
	cs.LastTry, cs.LastOK, cs.LastError, cs.FailingSince, cs.Attempts, cs.NextTry = now, now, "", time.Time{}, 0, time.Time{}
	return failingSince
}

func backoff(attempts int) time.Duration {
	d := firstBackoff
	for i := 1; i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// send expands the URL's secrets and sends, bounded by sendTimeout.
func (m *Manager) send(ctx context.Context, c Channel, title, body string) error {
	u, err := m.expand(c.URL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	return scrub(m.o.Send(ctx, u, title, body), u, c.URL)
}

func (m *Manager) expand(u string) (string, error) {
	if m.o.Expand == nil {
		return u, nil
	}
	return m.o.Expand(u)
}

// scrub replaces the expanded URL in an error with its template: services
// name the URL they failed on, and the URL holds the secret.
func scrub(err error, expanded, template string) error {
	if err == nil || expanded == template {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), expanded, template))
}

// heartbeat pings the dead-man's switch when it is due, and returns when
// it is due next.
func (m *Manager) heartbeat(ctx context.Context) time.Time {
	m.mu.Lock()
	hb, every := m.o.Heartbeat, m.o.HeartbeatEvery
	if hb == "" {
		m.mu.Unlock()
		return m.o.Now().Add(time.Hour)
	}
	now := m.o.Now()
	var failing []string
	for _, a := range m.st.Open {
		if a.Severity == Error {
			failing = append(failing, a.Text)
		}
	}
	cs := m.st.Heartbeat
	if now.Before(m.nextHB) {
		m.mu.Unlock()
		return m.nextHB
	}
	m.mu.Unlock()

	sort.Strings(failing)
	u, err := m.expand(hb)
	url, body := u, ""
	if len(failing) > 0 {
		url = strings.TrimRight(u, "/") + "/fail"
		body = m.o.Host + ": " + strings.Join(failing, "; ")
	}
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err = scrub(m.o.Ping(pctx, url, body), u, hb)
		cancel()
	}
	if ctx.Err() != nil {
		return now.Add(time.Second)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextHB = now.Add(every)
	m.dirty = true
	if err != nil {
		msg := m.o.Redact(err.Error())
		if cs.failed(now, msg, min(backoff(cs.Attempts+1), every)) {
			m.log.Warn("heartbeat ping failing", "err", msg)
		}
		m.nextHB = cs.NextTry
		m.saveLocked()
		return cs.NextTry
	}
	if since := cs.succeeded(now); !since.IsZero() {
		m.log.Info("heartbeat ping works again", "failed_for", roundDur(now.Sub(since)))
	}
	cs.Sent++
	m.saveLocked()
	return now.Add(every)
}

// Result is one channel's answer to Test.
type Result struct {
	Name    string
	Service string
	Err     error // redacted
}

// Test sends a test message to every channel now, and pings the
// heartbeat, outside the outbox: the caller wants the answer now.
func (m *Manager) Test(ctx context.Context) []Result {
	m.mu.Lock()
	channels, hb := slices.Clone(m.o.Channels), m.o.Heartbeat
	m.mu.Unlock()
	var out []Result
	title := "openclawd on " + m.o.Host + ": test message"
	body := fmt.Sprintf("This is a test from openclawd on %s (%s). Alerts reach you here.", m.o.Host, m.o.Now().UTC().Format(time.RFC3339))
	for _, c := range channels {
		err := m.send(ctx, c, title, body)
		if err != nil {
			err = errors.New(m.o.Redact(err.Error()))
		}
		out = append(out, Result{Name: c.Name, Service: service(c.URL), Err: err})
	}
	if hb != "" {
		u, err := m.expand(hb)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, sendTimeout)
			err = scrub(m.o.Ping(pctx, u, ""), u, hb)
			cancel()
		}
		if err != nil {
			err = errors.New(m.o.Redact(err.Error()))
		}
		out = append(out, Result{Name: "heartbeat", Service: service(hb), Err: err})
	}
	return out
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func roundDur(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
