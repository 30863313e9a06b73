package config

import (
	"time"
)

// Spend watches the model spend the gateway records (its usage.cost, an
// estimate from its price catalog) and can cap it per day.
type Spend struct {
	// DailyAlert and MonthlyAlert are amounts in US dollars; reaching one
	// raises an alert (default 0: none).
	DailyAlert   float64 `yaml:"daily_alert"`
	MonthlyAlert float64 `yaml:"monthly_alert"`
	// DailyCap pauses model calls for the rest of the day once today's
	// spend reaches it, until the day ends or `openclawd spend resume`
	// (default 0: no cap). The pause points the default model at one
	// that does not exist and turns heartbeats and cron off (hot, in
	// openclaw.json); if spend still grows, the gateway is stopped.
	DailyCap float64 `yaml:"daily_cap"`
	// Timezone is where days begin and end, an IANA name (default UTC).
	Timezone string `yaml:"timezone"`
	// Interval is how often the spend is read (default 1m).
	Interval time.Duration `yaml:"interval"`
}

// Location is Timezone's location (UTC if unset or unknown).
func (s Spend) Location() *time.Location {
	if s.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func (c *Config) validateSpend(bad func(key, format string, args ...any)) {
	s := c.Spend
	for _, a := range []struct {
		key string
		v   float64
	}{{"spend.daily_alert", s.DailyAlert}, {"spend.monthly_alert", s.MonthlyAlert}, {"spend.daily_cap", s.DailyCap}} {
		if a.v < 0 {
			bad(a.key, "%g is negative; use an amount in US dollars such as 5 or 2.50, or 0 for none", a.v)
		}
	}
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			bad("spend.timezone", "%q is not a time zone; use an IANA name such as Europe/Berlin or America/New_York (default UTC)", s.Timezone)
		}
	}
	if s.Interval < time.Second || s.Interval > time.Hour {
		bad("spend.interval", "%s is out of range; use 1s to 1h (default 1m)", s.Interval)
	}
}
