package embedcaddy

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap/zapcore"
)

// slogCore is the caddy.logging.cores.openclawd_slog module: a zapcore.Core
// that hands Caddy's entries to the Server's slog.Logger. The config points
// logging.sink and logging.logs.default at it with the discard writer, so
// Caddy's own encoder does no work and nothing reaches stderr directly.
type slogCore struct {
	// Level is the lowest zap level passed on (default info). The slog
	// handler's own level filters again.
	Level string `json:"level,omitempty"`

	min    zapcore.Level
	logger *slog.Logger
	attrs  []slog.Attr // from With
}

// CaddyModule returns the Caddy module information.
func (slogCore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.logging.cores.openclawd_slog",
		New: func() caddy.Module { return new(slogCore) },
	}
}

// Provision picks up the logger the Server stored before caddy.Load.
func (c *slogCore) Provision(caddy.Context) error {
	lvl := zapcore.InfoLevel
	if c.Level != "" {
		var err error
		if lvl, err = zapcore.ParseLevel(c.Level); err != nil {
			return fmt.Errorf("openclawd_slog: %w", err)
		}
	}
	c.min = lvl
	if h := current.Load(); h != nil && h.logger != nil {
		c.logger = h.logger
	} else {
		c.logger = safeLogger(nil)
	}
	return nil
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default: // error, dpanic, panic, fatal
		return slog.LevelError
	}
}

// Enabled implements zapcore.LevelEnabler. It ignores the slog handler's
// level so that certificate outcomes reach Write (and Certificates) even
// when the handler drops info; Write checks the handler.
func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.min }

// With implements zapcore.Core.
func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.attrs = append(append([]slog.Attr(nil), c.attrs...), fieldAttrs(fields)...)
	return &clone
}

// expected lists warnings our config causes on purpose; they go out at
// debug level instead of alarming operators on every start and reload.
var expected = map[string]bool{
	"admin endpoint disabled": true,
}

// Check implements zapcore.Core.
func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if expected[e.Message] {
		e.Level = zapcore.DebugLevel
	}
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write implements zapcore.Core.
func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if isCertMessage(e.Message) {
		recordCert(e, fields)
	}
	if !c.logger.Enabled(context.Background(), slogLevel(e.Level)) {
		return nil
	}
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(c.attrs...)
	r.AddAttrs(fieldAttrs(fields)...)
	return c.logger.Handler().Handle(context.Background(), r)
}

// Sync implements zapcore.Core.
func (c *slogCore) Sync() error { return nil }

// fieldAttrs converts zap fields one by one, keeping their order.
func fieldAttrs(fields []zapcore.Field) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(fields))
	for _, f := range fields {
		enc := zapcore.NewMapObjectEncoder()
		f.AddTo(enc)
		for k, v := range enc.Fields {
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	return attrs
}

// safeLogger returns l, or a stderr text logger if l is nil or writes
// through the log package: Caddy redirects that package into zap (the
// sink), which would feed the entry back into this core forever.
func safeLogger(l *slog.Logger) *slog.Logger {
	if l == nil || fmt.Sprintf("%T", l.Handler()) == "*slog.defaultHandler" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return l
}

// Interface guards.
var (
	_ zapcore.Core      = (*slogCore)(nil)
	_ caddy.Provisioner = (*slogCore)(nil)
)
