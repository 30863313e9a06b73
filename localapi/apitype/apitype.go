// Package apitype holds the JSON types of openclawd's local control API,
// shared by the daemon and the CLI. It imports no openclawd package, so the
// CLI never links the daemon's internals.
package apitype

import "time"

// APIVersion is the path prefix of this version of the API.
const APIVersion = "/v1"

// Daemon states (Status.State).
const (
	DaemonStarting = "starting" // provisioning, or the first gateway start is under way
	DaemonRunning  = "running"
	DaemonStopping = "stopping"
)

// Status is GET /v1/status. Field names are stable: scripts read them.
type Status struct {
	State     string    `json:"state"`
	Version   string    `json:"version"`
	PID       int       `json:"pid"`
	UptimeS   int64     `json:"uptime_s"`
	Config    string    `json:"config"`
	Gateway   Gateway   `json:"gateway"`
	Health    Health    `json:"health"`
	TLS       *TLS      `json:"tls,omitempty"`
	Backup    *Backup   `json:"backup,omitempty"`
	Upgrade   *Upgrade  `json:"upgrade,omitempty"`
	Alerts    *Alerts   `json:"alerts,omitempty"`
	Spend     *Spend    `json:"spend,omitempty"`
	Warnings  []Warning `json:"warnings,omitempty"`
	Healthy   bool      `json:"healthy"`
	NextSteps []string  `json:"next_steps,omitempty"`
}

// Gateway states (Gateway.State).
const (
	GatewayStarting  = "starting"
	GatewayRunning   = "running"
	GatewayUnhealthy = "unhealthy"
	GatewayBackoff   = "backoff"
	GatewayFailed    = "failed"
	GatewayStopped   = "stopped"
)

// Gateway is the supervised process.
type Gateway struct {
	State    string `json:"state"`
	Reason   string `json:"reason,omitempty"`
	Code     string `json:"code,omitempty"`
	PID      int    `json:"pid"`
	Port     int    `json:"port"`
	Restarts int    `json:"restarts"`
	Crashes  int    `json:"crashes"`
	UptimeS  int64  `json:"uptime_s"`
	RSSBytes int64  `json:"rss_bytes"`      // the gateway process
	TreeRSS  int64  `json:"tree_rss_bytes"` // with its workers
	// Memory is the gateway tree's memory over time and its restart bound.
	Memory      *Memory    `json:"memory,omitempty"`
	NextStartAt *time.Time `json:"next_start_at,omitempty"`
	LastExit    *Exit      `json:"last_exit,omitempty"`
	TokenSource string     `json:"token_source,omitempty"` // a path, never the token
	Runtime     []string   `json:"runtime,omitempty"`      // runtime directories the gateway runs from
}

// Memory is the gateway tree's resident memory as openclawd watches it.
type Memory struct {
	// TrendMBPerHour is the growth over the last hour (or since the
	// gateway started), once 5 minutes of samples exist.
	TrendMBPerHour *float64       `json:"trend_mb_per_hour,omitempty"`
	PeakBytes      int64          `json:"peak_bytes"`                    // of this gateway process
	RestartAbove   int64          `json:"restart_above_bytes"`           // 0: never
	ServiceLimit   int64          `json:"service_limit_bytes,omitempty"` // the host's RAM or the unit's MemoryMax
	OverSince      *time.Time     `json:"over_since,omitempty"`          // above RestartAbove, restart pending
	LastRestart    *MemoryRestart `json:"last_restart,omitempty"`
}

// MemoryRestart is the last restart openclawd made for memory.
type MemoryRestart struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Exit is how the previous gateway process ended.
type Exit struct {
	Code   int       `json:"code"`
	Signal string    `json:"signal,omitempty"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Health is what the probes last saw.
type Health struct {
	Live                bool       `json:"live"`
	Started             bool       `json:"started"`
	CheckedAt           *time.Time `json:"checked_at,omitempty"`
	LastError           string     `json:"last_error,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Version             string     `json:"version,omitempty"`
	Deep                Deep       `json:"deep"`
}

// Deep is the WebSocket probe.
type Deep struct {
	Enabled    bool       `json:"enabled"`
	Connected  bool       `json:"connected"`
	HelloOK    bool       `json:"hello_ok"`
	LastTick   *time.Time `json:"last_tick,omitempty"`
	LastHealth *time.Time `json:"last_health,omitempty"`
	Error      string     `json:"error,omitempty"`
	Code       string     `json:"code,omitempty"`
}

// Warning is a problem with a stable code, and what to do about it.
type Warning struct {
	Code     string `json:"code"`
	Severity string `json:"severity"` // "error" or "warning"
	Text     string `json:"text"`
	Fix      string `json:"fix,omitempty"`
}

// Error is the body of every non-2xx reply.
type Error struct {
	Error string `json:"error"`
}

// Backup is the state of backups: the last local archive and the last
// copy at each target.
type Backup struct {
	Every     string                    `json:"every,omitempty"` // the schedule; "" when off
	Running   bool                      `json:"running,omitempty"`
	Restoring bool                      `json:"restoring,omitempty"`
	Local     *BackupAttempt            `json:"local,omitempty"`
	Targets   map[string]*BackupAttempt `json:"targets,omitempty"`
}

// BackupAttempt is the last try at one destination, and its last success.
type BackupAttempt struct {
	At       time.Time `json:"at"`
	Name     string    `json:"name,omitempty"`
	Size     int64     `json:"size,omitempty"`
	Verified bool      `json:"verified,omitempty"`
	Error    string    `json:"error,omitempty"`
	LastGood time.Time `json:"last_good,omitzero"`
	LastName string    `json:"last_name,omitempty"`
	LastSize int64     `json:"last_size,omitempty"`
}

// RestoreRequest is POST /v1/restore: a restore that `openclawd restore`
// verified and extracted under <state_dir>/restore.
type RestoreRequest struct {
	Staged  string `json:"staged"`
	Archive string `json:"archive"`
}

// RestartResponse is POST /v1/restart, /v1/reload and /v1/restore.
type RestartResponse struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// TLS is the embedded Caddy's state.
type TLS struct {
	Mode     string       `json:"mode"`                // acme, internal, off
	RootCert string       `json:"root_cert,omitempty"` // internal: trust this on your devices
	Names    []CertStatus `json:"names,omitempty"`
}

// CertStatus is one served name's certificate.
type CertStatus struct {
	Name      string     `json:"name"`
	Issuer    string     `json:"issuer,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
	DaysLeft  int        `json:"days_left"`
	LastError string     `json:"last_error,omitempty"`
	// Check is the last wss:// handshake through the front end, made as a
	// remote client would; nil until the first one ran.
	Check *ProxyCheck `json:"check,omitempty"`
}

// ProxyCheck is one self-check's outcome. Code is "ok" or a stable
// problem code (certificate_not_trusted, origin_not_allowed,
// pairing_required, proxy_attribution_required, …).
type ProxyCheck struct {
	Code    string    `json:"code"`
	Detail  string    `json:"detail,omitempty"`
	Address string    `json:"address,omitempty"` // host:port dialled
	At      time.Time `json:"at"`
}

// UpgradeRequest is POST /v1/upgrade: an upgrade (to the given versions,
// or without them to this openclawd's pins), or a rollback.
type UpgradeRequest struct {
	Openclaw string `json:"openclaw,omitempty"`
	Node     string `json:"node,omitempty"`
	Rollback bool   `json:"rollback,omitempty"`
	Force    bool   `json:"force,omitempty"` // try a blocked target again
	Check    bool   `json:"check,omitempty"` // only resolve and show the plan
}

// UpgradePlan is the reply: the transaction resolved, and whether it began.
type UpgradePlan struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	From      Runtime  `json:"from"`
	To        Runtime  `json:"to"`
	UpToDate  bool     `json:"up_to_date,omitempty"`
	Started   bool     `json:"started,omitempty"`
	Notes     []string `json:"notes,omitempty"`
	NeedBytes int64    `json:"need_bytes"`
	FreeBytes int64    `json:"free_bytes"`
}

// Runtime is a Node and openclaw pair.
type Runtime struct {
	Node     string `json:"node"`
	Openclaw string `json:"openclaw"`
}

// Upgrade is the state of runtime transactions, in status.
type Upgrade struct {
	Running  *UpgradeRun    `json:"running,omitempty"`
	Last     *UpgradeRun    `json:"last,omitempty"`
	Previous *Runtime       `json:"previous,omitempty"` // what `openclawd rollback` returns to
	Blocked  []UpgradeBlock `json:"blocked,omitempty"`
	// Pinned is the runtime this openclawd pins, when it is not the one
	// running; PinnedWhy says why it is not.
	Pinned    *Runtime `json:"pinned,omitempty"`
	PinnedWhy string   `json:"pinned_why,omitempty"`
}

// UpgradeRun is one transaction: in progress (Phase) or ended (Result).
type UpgradeRun struct {
	ID       string        `json:"id"`
	Kind     string        `json:"kind"`
	From     Runtime       `json:"from"`
	To       Runtime       `json:"to"`
	Phase    string        `json:"phase,omitempty"`
	Result   string        `json:"result,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished,omitzero"`
	Steps    []UpgradeStep `json:"steps,omitempty"`
}

// UpgradeStep is one step begun.
type UpgradeStep struct {
	Phase string    `json:"phase"`
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
}

// UpgradeBlock is a target that failed its gate.
type UpgradeBlock struct {
	Runtime Runtime   `json:"runtime"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// Alerts are the open problems and how their delivery goes.
type Alerts struct {
	Open      []Alert        `json:"open,omitempty"`
	Channels  []AlertChannel `json:"channels,omitempty"`
	Heartbeat *AlertChannel  `json:"heartbeat,omitempty"`
}

// Alert is an announced problem, open until it has been gone a while.
type Alert struct {
	Key      string    `json:"key"`
	Severity string    `json:"severity"`
	Text     string    `json:"text"`
	Fix      string    `json:"fix,omitempty"`
	Since    time.Time `json:"since"`
	Opened   time.Time `json:"opened"`
}

// AlertChannel is one notification channel (or the heartbeat).
type AlertChannel struct {
	Name         string    `json:"name"`
	Service      string    `json:"service"`
	Pending      int       `json:"pending"`
	Sent         int       `json:"sent"`
	LastOK       time.Time `json:"last_ok,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	NextTry      time.Time `json:"next_try,omitzero"`
}

// AlertTest is one channel's answer to POST /v1/alerts/test.
type AlertTest struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// Spend is the model spend the gateway recorded, an estimate from its
// price catalog, and the daily cap's pause.
type Spend struct {
	Day          string      `json:"day"` // today, YYYY-MM-DD in Timezone
	Timezone     string      `json:"timezone"`
	Today        SpendTotals `json:"today"`
	Month        SpendTotals `json:"month"`
	Estimate     bool        `json:"estimate"` // always: prices come from the gateway's catalog
	UpdatedAt    time.Time   `json:"updated_at,omitzero"`
	Error        string      `json:"error,omitempty"`
	DailyAlert   float64     `json:"daily_alert,omitempty"`
	MonthlyAlert float64     `json:"monthly_alert,omitempty"`
	DailyCap     float64     `json:"daily_cap,omitempty"`
	Paused       *SpendPause `json:"paused,omitempty"`
}

// SpendTotals are tokens and estimated cost over a period.
type SpendTotals struct {
	Tokens     int64   `json:"tokens"`
	Input      int64   `json:"input"`
	Output     int64   `json:"output"`
	CacheRead  int64   `json:"cache_read"`
	CacheWrite int64   `json:"cache_write"`
	CostUSD    float64 `json:"cost_usd"`
	// Unpriced counts recorded turns whose model has no price: their cost
	// is missing from CostUSD.
	Unpriced int `json:"unpriced_turns"`
}

// SpendPause is the daily cap's pause of model calls.
type SpendPause struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"` // the next day's start
	Mode   string    `json:"mode"`  // "config" (default model and schedules off) or "stopped" (the gateway)
	Reason string    `json:"reason"`
	// Applied says the gateway has taken the pause: it logged the reload
	// of the paused keys (config), or it is stopped.
	Applied bool `json:"applied"`
}

// Reach is a token the front end answers at Path, on the HTTP and HTTPS
// ports of every served name, for a short while.
type Reach struct {
	Token string `json:"token"`
	Path  string `json:"path"`
}
