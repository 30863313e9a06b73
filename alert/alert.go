// Package alert tells the owner, out of band, when the gateway can't: when
// it is down, crash-looping, out of memory, out of disk, out of budget. The
// daemon hands it the conditions it sees now; the package turns them into
// one "problem" message when a condition starts and one "resolved" message
// when it clears, keeps those in a durable outbox on disk, and delivers
// them to every channel (ntfy, Telegram, Discord, Slack, SMTP, webhooks,
// through shoutrrr) with backoff, across restarts. A heartbeat URL (a
// dead-man's switch such as healthchecks.io) is pinged while all is well,
// so the owner hears even when the whole host is gone.
package alert

import (
	"time"
)

// Severities of a Condition.
const (
	Error   = "error"   // the bot can't work: sent to the heartbeat's /fail too
	Warning = "warning" // the bot works, but needs attention soon
)

// Message kinds.
const (
	KindProblem  = "problem"
	KindResolved = "resolved"
)

// Condition is one problem the daemon sees now. The same Key in the next
// observation is the same problem, whatever its Text says by then.
type Condition struct {
	Key      string // stable: gateway_down, disk_low, cert:example.com …
	Severity string // Error or Warning
	Text     string // one sentence: what is wrong
	Fix      string // what to do, when there is something to do
	// Delay is how long the condition must hold before it is announced:
	// a gateway that restarts in ten seconds is no news.
	Delay time.Duration
}

// Alert is an announced (open) problem.
type Alert struct {
	Key      string    `json:"key"`
	Severity string    `json:"severity"`
	Text     string    `json:"text"` // as announced
	Fix      string    `json:"fix,omitempty"`
	Since    time.Time `json:"since"`  // first seen
	Opened   time.Time `json:"opened"` // announced
	// Gone is when it was last seen gone; it resolves once gone for the
	// resolve period. Zero while it holds.
	Gone time.Time `json:"gone,omitzero"`
}

// Message is one entry of a channel's outbox.
type Message struct {
	ID       string    `json:"id"`
	Channel  string    `json:"channel"`
	Kind     string    `json:"kind"`
	Key      string    `json:"key"`
	Severity string    `json:"severity"`
	Text     string    `json:"text"`
	Fix      string    `json:"fix,omitempty"`
	At       time.Time `json:"at"`
}

// ChannelState is how delivery to one channel goes.
type ChannelState struct {
	LastOK       time.Time `json:"last_ok,omitzero"`
	LastTry      time.Time `json:"last_try,omitzero"`
	LastError    string    `json:"last_error,omitempty"` // redacted
	FailingSince time.Time `json:"failing_since,omitzero"`
	Attempts     int       `json:"attempts,omitempty"` // failed tries in a row
	NextTry      time.Time `json:"next_try,omitzero"`
	Sent         int       `json:"sent,omitempty"`    // messages delivered, ever
	Dropped      int       `json:"dropped,omitempty"` // dropped from a full or stale outbox, not yet told
}

// Status is what `openclawd status` shows of alerts.
type Status struct {
	Open      []Alert         `json:"open,omitempty"`
	Channels  []ChannelStatus `json:"channels,omitempty"`
	Heartbeat *ChannelStatus  `json:"heartbeat,omitempty"`
}

// ChannelStatus is one channel in Status.
type ChannelStatus struct {
	Name    string `json:"name"`
	Service string `json:"service"` // the URL's scheme: ntfy, telegram, smtp …
	ChannelState
	Pending int `json:"pending"`
}
