package daemon

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/internal/sockets"
	"github.com/openclawd/openclawd/launch"
	"github.com/openclawd/openclawd/localapi/apitype"
	"github.com/openclawd/openclawd/supervisor"
)

// memState is the gateway memory watcher's: samples of the running
// gateway tree's RSS, and the restart it makes when the tree stays above
// memory.restart_above.
type memState struct {
	lastLine atomic.Int64 // unix nanoseconds of the gateway's last output line

	mu          sync.Mutex
	pid         int         // the gateway the samples are of
	samples     []memSample // the last hour's
	peak        int64
	over        time.Time // first sample above the bound; zero: not above
	lastRestart *apitype.MemoryRestart
	restarted   int  // the gateway restarted for memory: draining, not sampled
	held        bool // above the bound again within memoryCooldown: warn only
}

// memoryCooldown: one restart for memory per this long. A gateway that
// grows back sooner is a warning, not a restart loop (which would also
// hide a crash loop from its tracker).
const memoryCooldown = time.Hour

type memSample struct {
	at  time.Time
	rss int64
}

// treeRSS is the resident memory of the gateway process and of its tree.
func treeRSS(pid int) (main, tree int64) {
	main = rssBytes(pid)
	tree = main
	if kids, err := sockets.Descendants(pid); err == nil {
		for _, k := range kids {
			tree += rssBytes(k)
		}
	}
	return main, tree
}

// watchMemory samples the gateway tree's memory every memory.interval and
// restarts a gateway that stays above memory.restart_above, once, at a
// quiet moment: the restart drains open chat turns, but one that waits
// for a quiet gateway interrupts nobody's conversation mid-stream.
func (d *Daemon) watchMemory(ctx context.Context) {
	for {
		cfg := d.config()
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.Memory.Interval):
		}
		d.sampleMemory(cfg, time.Now())
	}
}

func (d *Daemon) sampleMemory(cfg *config.Config, now time.Time) {
	ss := d.sup.Status()
	m := &d.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	if ss.State != supervisor.Running || ss.PID == 0 || ss.PID == m.restarted {
		// The restarted gateway drains its chat turns for up to
		// gateway.stop_timeout: not a new gateway to sample.
		m.pid, m.samples, m.over, m.peak = 0, nil, time.Time{}, 0
		return
	}
	_, rss := treeRSS(ss.PID)
	if ss.PID != m.pid {
		m.pid, m.samples, m.over, m.peak = ss.PID, nil, time.Time{}, 0
	}
	m.samples = append(m.samples, memSample{now, rss})
	for len(m.samples) > 0 && now.Sub(m.samples[0].at) > time.Hour {
		m.samples = m.samples[1:]
	}
	m.peak = max(m.peak, rss)
	limit := cfg.Memory.RestartAboveBytes(launch.ServiceRAMMB() << 20)
	if limit <= 0 || rss <= limit {
		m.over = time.Time{}
		return
	}
	if m.over.IsZero() {
		m.over = now
		d.log.Warn("the gateway's memory is above memory.restart_above; restarting it at the next quiet moment",
			"rss_mb", rss>>20, "restart_above_mb", limit>>20)
		return
	}
	// Held for two samples, so a moment's spike is not a restart.
	quiet := cfg.Memory.Quiet
	last := time.Unix(0, m.lastLine.Load())
	if now.Sub(last) < quiet && now.Sub(m.over) < 10*quiet {
		return
	}
	if d.restoring.Load() || d.upgrading.Load() {
		return // those hold and restart the gateway themselves
	}
	if r := m.lastRestart; r != nil && now.Sub(r.At) < memoryCooldown {
		if !m.held {
			m.held = true
			d.log.Warn("the gateway's memory is above memory.restart_above again within an hour of a restart for it; not restarting again",
				"rss_mb", rss>>20, "restart_above_mb", limit>>20)
		}
		return
	}
	m.held = false
	reason := fmt.Sprintf("memory: the gateway's processes held %d MB, above memory.restart_above (%d MB), since %s",
		rss>>20, limit>>20, m.over.UTC().Format(time.RFC3339))
	m.lastRestart = &apitype.MemoryRestart{At: now.UTC(), Reason: reason}
	m.restarted = ss.PID
	m.pid, m.samples, m.over, m.peak = 0, nil, time.Time{}, 0
	d.log.Warn("restarting the gateway for memory", "reason", reason)
	d.sup.Restart(reason)
}

// memoryStatus is status's view of the gateway's memory, and a warning
// while a restart for memory is pending.
func (d *Daemon) memoryStatus(cfg *config.Config, now time.Time) (*apitype.Memory, []apitype.Warning) {
	m := &d.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	svc := launch.ServiceRAMMB() << 20
	out := &apitype.Memory{PeakBytes: m.peak, RestartAbove: cfg.Memory.RestartAboveBytes(svc), ServiceLimit: svc,
		LastRestart: m.lastRestart}
	if tr, ok := trend(m.samples); ok {
		out.TrendMBPerHour = &tr
	}
	var ws []apitype.Warning
	if !m.over.IsZero() {
		t := m.over.UTC()
		out.OverSince = &t
		what := "openclawd restarts it once it is quiet"
		if m.held {
			what = "it was restarted for memory less than an hour ago, so openclawd does not restart it again"
		}
		ws = append(ws, apitype.Warning{Code: "gateway_memory_high", Severity: "warning",
			Text: fmt.Sprintf("the gateway's processes hold %d MB, above memory.restart_above (%d MB); %s",
				m.samples[len(m.samples)-1].rss>>20, out.RestartAbove>>20, what),
			Fix: "Nothing to do now. If it recurs, add swap (`sudo openclawd doctor --fix`) or memory, or raise memory.restart_above; `openclawd status` shows the trend."})
	}
	return out, ws
}

// trend is the least-squares slope of the samples in MB per hour, once
// they span 5 minutes.
func trend(s []memSample) (float64, bool) {
	if len(s) < 3 || s[len(s)-1].at.Sub(s[0].at) < 5*time.Minute {
		return 0, false
	}
	var sx, sy, sxx, sxy float64
	for _, p := range s {
		x := p.at.Sub(s[0].at).Hours()
		y := float64(p.rss) / (1 << 20)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	n := float64(len(s))
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, false
	}
	return (n*sxy - sx*sy) / den, true
}
