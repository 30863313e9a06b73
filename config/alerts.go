package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/openclawd/openclawd/alert"
)

// Alerts configures out-of-band notifications: the gateway's own channels
// are down when the gateway is, so openclawd tells the owner elsewhere.
type Alerts struct {
	// Notify lists the channels every alert goes to.
	Notify []Notify `yaml:"notify"`
	// Heartbeat is a dead-man's switch (healthchecks.io and the like).
	Heartbeat Heartbeat `yaml:"heartbeat"`
	// Grace is how long the gateway may be down before an alert (default
	// 2m): a restart takes seconds, and is no news. A gateway that failed
	// for good (exit 78) or hung is announced at once.
	Grace time.Duration `yaml:"grace"`
	// ResolveAfter is how long a problem must stay gone before it is
	// resolved (default 1m), so a crash loop is one alert, not one per
	// crash.
	ResolveAfter time.Duration `yaml:"resolve_after"`
	// MinInterval is the least time between two messages to one channel
	// (default 30s); what comes up meanwhile goes in the next one.
	MinInterval time.Duration `yaml:"min_interval"`
}

// Notify is one channel: a shoutrrr URL such as ntfy://ntfy.sh/${OPENCLAWD_NTFY_TOPIC},
// telegram://${OPENCLAWD_TELEGRAM_TOKEN}@telegram?chats=123,
// discord://token@id, slack://hook:…, smtp://user:${OPENCLAWD_SMTP_PASSWORD}@host:587/?from=…&to=…
// or generic+https://example.com/hook (a webhook). ${NAME} is filled from
// gateway.env_file when sending, so secrets stay out of this file; only
// OPENCLAWD_* variables may be used, which the gateway never sees.
type Notify struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
}

// Heartbeat is pinged every Every while no error is open, and sent
// <url>/fail with the problem when one is.
type Heartbeat struct {
	URL   string        `yaml:"url"`
	Every time.Duration `yaml:"every"`
}

func (c *Config) validateAlerts(bad func(key, format string, args ...any)) {
	a := c.Alerts
	for _, d := range []struct {
		key    string
		v      time.Duration
		lo, hi time.Duration
		def    string
	}{
		{"alerts.grace", a.Grace, 0, time.Hour, "2m"},
		{"alerts.resolve_after", a.ResolveAfter, time.Second, time.Hour, "1m"},
		{"alerts.min_interval", a.MinInterval, time.Second, time.Hour, "30s"},
		{"alerts.heartbeat.every", a.Heartbeat.Every, 10 * time.Second, 24 * time.Hour, "5m"},
	} {
		if d.v < d.lo || d.v > d.hi {
			bad(d.key, "%s is out of range; use %s to %s (default %s)", d.v, d.lo, d.hi, d.def)
		}
	}
	seen := map[string]bool{}
	for i, n := range a.Notify {
		key := fmt.Sprintf("alerts.notify[%d]", i)
		switch {
		case !targetNameRE.MatchString(n.Name):
			bad(key+".name", "%q is not a channel name; use lower-case letters, digits, - and _ (e.g. phone)", n.Name)
		case seen[n.Name] || n.Name == "heartbeat":
			bad(key+".name", "%q names two channels (heartbeat is the heartbeat's)", n.Name)
		}
		seen[n.Name] = true
		if err := alert.ValidateURL(n.URL); err != nil {
			bad(key+".url", "%v", err)
		}
		c.checkPlaceholders(key+".url", n.URL, bad)
	}
	if h := a.Heartbeat.URL; h != "" {
		if u, err := url.Parse(placeholderFree(h)); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("alerts.heartbeat.url", "%q is not an http(s):// URL, e.g. https://hc-ping.com/${OPENCLAWD_HEARTBEAT_UUID}", h)
		}
		c.checkPlaceholders("alerts.heartbeat.url", h, bad)
	}
}

func placeholderFree(u string) string {
	for _, n := range alert.Placeholders(u) {
		u = strings.ReplaceAll(u, "${"+n+"}", "x0")
	}
	return u
}

// checkPlaceholders allows only openclawd's variables, and needs an env
// file to read them from.
func (c *Config) checkPlaceholders(key, u string, bad func(key, format string, args ...any)) {
	for _, n := range alert.Placeholders(u) {
		switch {
		case !strings.HasPrefix(n, "OPENCLAWD_"):
			bad(key, "${%s}: only OPENCLAWD_* variables may be used (the gateway never sees those); rename it in the env file and here", n)
		case c.Gateway.EnvFile == "":
			bad(key, "${%s} needs gateway.env_file, where it is set", n)
		}
	}
}
