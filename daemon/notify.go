package daemon

import (
	"github.com/openclawd/openclawd/internal/sdnotify"
	"github.com/openclawd/openclawd/supervisor"
)

// ready sends READY=1 once: when the gateway is first healthy, or when it
// has failed or backs off. Then openclawd must stay up to say why, rather
// than be killed and restarted by systemd's start timeout.
func (d *Daemon) ready(why string) {
	d.readyOnce.Do(func() {
		d.readySent.Store(true)
		if ok, err := sdnotify.Notify("READY=1\nSTATUS=" + why); err != nil {
			d.log.Warn("notifying the service manager", "err", err)
		} else if ok {
			d.log.Info("told the service manager openclawd is ready", "why", why)
		}
	})
}

func (d *Daemon) isReady() bool { return d.readySent.Load() }

// notifyStatus keeps `systemctl status` in step with the gateway, and
// extends systemd's start timeout while the first start makes progress: a
// first boot downloads and installs the runtime for a minute or more.
func (d *Daemon) notifyStatus() {
	ss := d.sup.Status()
	line := "gateway " + ss.State.String()
	if ss.Code != "" {
		line += " (" + ss.Code + ")"
	}
	if phase := d.prov.Phase(); phase != "" {
		line += ": " + phase
	}
	if ss.State == supervisor.Failed || ss.State == supervisor.Backoff {
		// openclawd is up and says why in status; holding READY back would
		// only have systemd kill it at the start timeout (e.g. offline, the
		// first download failing) and start the same failure again.
		d.ready(line)
	}
	if ss.State == supervisor.Starting && !d.isReady() {
		_, _ = sdnotify.Notify("EXTEND_TIMEOUT_USEC=30000000")
	}
	if line != d.lastStatus {
		d.lastStatus = line
		_, _ = sdnotify.Notify("STATUS=" + line)
	}
}
