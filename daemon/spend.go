package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/health"
	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/runtime/openclaw"
)

// Pause modes.
const (
	pauseConfig  = "config"  // the default model points nowhere; heartbeat and cron off
	pauseStopped = "stopped" // the gateway is held stopped: spend grew in config mode
)

// spendFile is the pause, kept across restarts: a pause outlives the
// daemon, and so must the values it replaced.
type spendFile struct {
	Paused     *spendPause `json:"paused,omitempty"`
	ResumedDay string      `json:"resumed_day,omitempty"` // `spend resume` lifts the cap for this day
}

type spendPause struct {
	Day    string          `json:"day"`
	Since  time.Time       `json:"since"`
	Mode   string          `json:"mode"`
	Reason string          `json:"reason"`
	Saved  json.RawMessage `json:"saved,omitempty"` // the config values the pause replaced
	// Baseline is today's cost once the pause settled; more than that
	// means something still calls a model, and the gateway is stopped.
	Baseline *float64 `json:"baseline,omitempty"`
}

// spendState is the daemon's view of spend.
type spendState struct {
	mu   sync.Mutex
	last *apitype.Spend // last reading
	file spendFile
	// applied is set when the gateway logs that it hot-reloaded the
	// pause's keys: from then on no turn reaches a model through them.
	applied atomic.Bool
}

func spendPath(cfg *config.Config) string { return filepath.Join(cfg.Layout().Spend(), "spend.json") }

func (d *Daemon) loadSpend(cfg *config.Config) {
	b, err := os.ReadFile(spendPath(cfg))
	if err != nil {
		return
	}
	var f spendFile
	if err := json.Unmarshal(b, &f); err != nil {
		d.log.Error("the spend file is damaged; a pause it held is forgotten", "file", spendPath(cfg), "err", err)
		return
	}
	d.spend.file = f
}

// saveSpend writes the file; with d.spend.mu held.
func (d *Daemon) saveSpend(cfg *config.Config) error {
	b, err := json.MarshalIndent(d.spend.file, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(spendPath(cfg), b, 0o600)
}

// holdForSpend keeps the gateway stopped at start when today's pause had
// stopped it.
func (d *Daemon) holdForSpend() {
	cfg := d.config()
	d.spend.mu.Lock()
	defer d.spend.mu.Unlock()
	d.loadSpend(cfg)
	p := d.spend.file.Paused
	if p != nil && p.Mode == pauseStopped && p.Day == today(cfg, time.Now()) {
		d.sup.Hold("model spend paused by the daily cap: " + p.Reason)
	}
}

func today(cfg *config.Config, now time.Time) string {
	return now.In(cfg.Spend.Location()).Format(time.DateOnly)
}

// watchSpend reads usage.cost every spend.interval and applies the cap.
func (d *Daemon) watchSpend(ctx context.Context) {
	for {
		cfg := d.config()
		d.pollSpend(ctx, cfg, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.Spend.Interval):
		}
	}
}

// usageCost is the part of usage.cost's reply openclawd reads.
type usageCost struct {
	Daily []struct {
		Date string `json:"date"`
		usageTotals
	} `json:"daily"`
	Totals usageTotals `json:"totals"`
}

type usageTotals struct {
	Input              int64   `json:"input"`
	Output             int64   `json:"output"`
	CacheRead          int64   `json:"cacheRead"`
	CacheWrite         int64   `json:"cacheWrite"`
	TotalTokens        int64   `json:"totalTokens"`
	TotalCost          float64 `json:"totalCost"`
	MissingCostEntries int     `json:"missingCostEntries"`
}

func (u usageTotals) api() apitype.SpendTotals {
	return apitype.SpendTotals{Tokens: u.TotalTokens, Input: u.Input, Output: u.Output, CacheRead: u.CacheRead,
		CacheWrite: u.CacheWrite, CostUSD: u.TotalCost, Unpriced: u.MissingCostEntries}
}

func (d *Daemon) pollSpend(ctx context.Context, cfg *config.Config, now time.Time) {
	loc := cfg.Spend.Location()
	day := now.In(loc).Format(time.DateOnly)
	d.spend.mu.Lock()
	p := d.spend.file.Paused
	d.spend.mu.Unlock()
	if p != nil && p.Day != day {
		if msg, err := d.resumeSpend(cfg, "a new day began"); err != nil {
			d.log.Error("lifting the spend pause", "err", err)
		} else {
			d.log.Info(msg)
		}
		p = nil
	}
	s := &apitype.Spend{Day: day, Timezone: loc.String(), Estimate: true,
		DailyAlert: cfg.Spend.DailyAlert, MonthlyAlert: cfg.Spend.MonthlyAlert, DailyCap: cfg.Spend.DailyCap}
	if p != nil && p.Mode == pauseStopped {
		// Nothing to ask: the gateway is stopped. Keep the last figures.
		d.spend.mu.Lock()
		if d.spend.last != nil {
			s.Today, s.Month, s.UpdatedAt = d.spend.last.Today, d.spend.last.Month, d.spend.last.UpdatedAt
		}
		d.spend.last = s
		d.spend.mu.Unlock()
		return
	}
	first := now.In(loc).Format("2006-01") + "-01"
	params := map[string]any{"startDate": first, "endDate": day, "agentScope": "all"}
	if loc != time.UTC {
		params["mode"], params["timeZone"] = "specific", loc.String()
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	raw, err := d.health.Call(cctx, "usage.cost", params)
	cancel()
	var u usageCost
	if err == nil {
		err = json.Unmarshal(raw, &u)
	}
	if err != nil {
		if errors.Is(err, health.ErrNoSession) {
			err = errors.New("the gateway is not connected; spend is read over its WebSocket")
		}
		s.Error = err.Error()
	} else {
		s.UpdatedAt = now.UTC()
		s.Month = u.Totals.api()
		for _, r := range u.Daily {
			if r.Date == day {
				s.Today = r.api()
			}
		}
	}
	d.spend.mu.Lock()
	if err != nil && d.spend.last != nil && d.spend.last.Day == day {
		s.Today, s.Month, s.UpdatedAt = d.spend.last.Today, d.spend.last.Month, d.spend.last.UpdatedAt
	}
	d.spend.last = s
	d.spend.mu.Unlock()
	if err != nil {
		return
	}
	d.applyCap(cfg, s, now)
}

// applyCap pauses at the cap, and stops the gateway if a pause in config
// mode did not stop the spend (a session with its own model, say).
func (d *Daemon) applyCap(cfg *config.Config, s *apitype.Spend, now time.Time) {
	cap := cfg.Spend.DailyCap
	d.spend.mu.Lock()
	defer d.spend.mu.Unlock()
	f := &d.spend.file
	switch p := f.Paused; {
	case p == nil && cap > 0 && s.Today.CostUSD >= cap && f.ResumedDay != s.Day:
		reason := fmt.Sprintf("today's estimated spend $%.2f reached the daily cap $%.2f", s.Today.CostUSD, cap)
		saved, err := openclaw.PauseModels(cfg.Layout().GatewayConfig())
		if err != nil {
			d.log.Error("the daily spend cap could not pause the gateway's models; stopping the gateway instead", "err", err)
			d.stopForSpend(cfg, &spendPause{Day: s.Day, Since: now, Reason: reason})
			return
		}
		d.gwWatch.refresh()
		d.spend.applied.Store(false)
		f.Paused = &spendPause{Day: s.Day, Since: now, Mode: pauseConfig, Reason: reason, Saved: saved}
		if err := d.saveSpend(cfg); err != nil {
			d.log.Error("saving the spend pause", "err", err)
		}
		d.log.Warn("model calls paused: "+reason+"; `openclawd spend resume` lifts it", "until", nextDay(cfg, now))
	case p != nil && p.Mode == pauseConfig && now.Sub(p.Since) >= settle(cfg):
		// Readings only grow, and lag by the gateway's usage cache: a stale
		// one delays the decision, never makes it wrong.
		if p.Baseline == nil {
			b := s.Today.CostUSD
			p.Baseline = &b
			_ = d.saveSpend(cfg)
			return
		}
		if s.Today.CostUSD > *p.Baseline+1e-9 {
			p.Reason += fmt.Sprintf("; spend still grew during the pause ($%.4f → $%.4f: a session or agent with its own model)", *p.Baseline, s.Today.CostUSD)
			d.stopForSpend(cfg, p)
		}
	}
}

// settle is how long after a pause the spend may still grow: turns under
// way finish, and the gateway's usage cache (30 s) catches up.
func settle(cfg *config.Config) time.Duration { return max(time.Minute, 2*cfg.Spend.Interval) }

// stopForSpend holds the gateway stopped for the rest of the day; with
// d.spend.mu held.
func (d *Daemon) stopForSpend(cfg *config.Config, p *spendPause) {
	p.Mode = pauseStopped
	d.spend.file.Paused = p
	if err := d.saveSpend(cfg); err != nil {
		d.log.Error("saving the spend pause", "err", err)
	}
	d.log.Warn("gateway stopped: "+p.Reason+"; `openclawd spend resume` starts it", "until", nextDay(cfg, time.Now()))
	go func() {
		ctx, cancel := context.WithTimeout(d.runCtx, cfg.Gateway.StopTimeout+10*time.Second)
		defer cancel()
		if err := d.sup.Pause(ctx, "model spend paused by the daily cap"); err != nil {
			d.log.Error("stopping the gateway for the spend cap", "err", err)
		}
	}()
}

func nextDay(cfg *config.Config, now time.Time) time.Time {
	t := now.In(cfg.Spend.Location())
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
}

// ResumeSpend implements localapi.Backend: `openclawd spend resume` lifts
// the pause, and the cap, until the day ends.
func (d *Daemon) ResumeSpend(ctx context.Context) (string, error) {
	cfg := d.config()
	d.spend.mu.Lock()
	paused := d.spend.file.Paused != nil
	d.spend.file.ResumedDay = today(cfg, time.Now())
	err := d.saveSpend(cfg)
	d.spend.mu.Unlock()
	if err != nil {
		return "", err
	}
	if !paused {
		return "model calls are not paused; the daily cap is lifted until the day ends", nil
	}
	return d.resumeSpend(cfg, "`openclawd spend resume`")
}

// resumeSpend undoes the pause: the replaced config values come back
// (keys the owner changed meanwhile are kept) and the gateway restarts, as
// heartbeats need after cron comes back.
func (d *Daemon) resumeSpend(cfg *config.Config, why string) (string, error) {
	d.spend.mu.Lock()
	defer d.spend.mu.Unlock()
	p := d.spend.file.Paused
	if p == nil {
		return "model calls are not paused", nil
	}
	var notes []string
	if paused, err := openclaw.ModelsPaused(cfg.Layout().GatewayConfig()); err == nil && paused {
		kept, err := openclaw.ResumeModels(cfg.Layout().GatewayConfig(), p.Saved)
		if err != nil {
			return "", fmt.Errorf("restoring the gateway config after the spend pause: %w", err)
		}
		d.gwWatch.refresh()
		if len(kept) > 0 {
			notes = append(notes, "kept your own edits of "+strings.Join(kept, ", "))
		}
	}
	d.spend.file.Paused = nil
	if err := d.saveSpend(cfg); err != nil {
		return "", err
	}
	if p.Mode == pauseStopped {
		d.sup.Resume()
	} else {
		d.sup.Restart("model spend resumed: heartbeats come back with a restart")
	}
	msg := "model calls resumed (" + why + ")"
	if len(notes) > 0 {
		msg += "; " + strings.Join(notes, "; ")
	}
	d.log.Info(msg)
	return msg, nil
}

// spendStatus is status' view, with its warnings.
func (d *Daemon) spendStatus(cfg *config.Config) (*apitype.Spend, []apitype.Warning) {
	d.spend.mu.Lock()
	defer d.spend.mu.Unlock()
	if d.spend.last == nil {
		return nil, nil
	}
	s := *d.spend.last
	var ws []apitype.Warning
	if p := d.spend.file.Paused; p != nil {
		s.Paused = &apitype.SpendPause{Since: p.Since.UTC(), Until: nextDay(cfg, p.Since).UTC(), Mode: p.Mode, Reason: p.Reason,
			Applied: p.Mode == pauseStopped || d.spend.applied.Load()}
		text := "model calls are paused by the daily spend cap: " + p.Reason
		if p.Mode == pauseStopped {
			text = "the gateway is stopped by the daily spend cap: " + p.Reason
		}
		ws = append(ws, apitype.Warning{Code: "spend_paused", Severity: "error", Text: text,
			Fix: fmt.Sprintf("It lifts by itself at %s; `sudo openclawd spend resume` lifts it now (and the cap until the day ends); raise spend.daily_cap for a higher cap.", s.Paused.Until.In(cfg.Spend.Location()).Format("2006-01-02 15:04 MST"))})
	}
	if a := cfg.Spend.DailyAlert; a > 0 && s.Today.CostUSD >= a {
		ws = append(ws, apitype.Warning{Code: "spend_daily", Severity: "warning",
			Text: fmt.Sprintf("today's estimated model spend is $%.2f, over the alert of $%.2f", s.Today.CostUSD, a),
			Fix:  "See what spends with `openclawd openclaw status --usage`; heartbeats and scheduled jobs are the usual idle cost."})
	}
	if a := cfg.Spend.MonthlyAlert; a > 0 && s.Month.CostUSD >= a {
		ws = append(ws, apitype.Warning{Code: "spend_monthly", Severity: "warning",
			Text: fmt.Sprintf("this month's estimated model spend is $%.2f, over the alert of $%.2f", s.Month.CostUSD, a),
			Fix:  "Set spend.daily_cap to stop spend for the day at an amount."})
	}
	return &s, ws
}
