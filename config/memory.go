package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Memory bounds the gateway's memory. The gateway's resident memory grows
// in use (openclaw#91588 reached 15 GB); a restart gives it back, and the
// gateway drains open chat turns before it exits.
type Memory struct {
	// RestartAbove restarts the gateway, at a quiet moment, once its
	// process tree's resident memory stays above this: a size such as
	// 1500MB or 2GB, "auto" (three quarters of the memory the service may
	// use, at least 1.5 GB) or "off" (default auto).
	RestartAbove string `yaml:"restart_above"`
	// Quiet is how long the gateway must have logged nothing before such
	// a restart; after ten times this it restarts anyway (default 30s).
	Quiet time.Duration `yaml:"quiet"`
	// Interval is how often the gateway's memory is read (default 30s).
	Interval time.Duration `yaml:"interval"`
}

// RestartAboveBytes resolves RestartAbove for a service that may use
// limitBytes (the host's RAM or its cgroup's memory.max): 0 means never.
func (m Memory) RestartAboveBytes(limitBytes int64) int64 {
	switch v := strings.TrimSpace(m.RestartAbove); v {
	case "off":
		return 0
	case "", "auto":
		return max(1536<<20, limitBytes/4*3)
	default:
		n, _ := ParseSize(v)
		return n
	}
}

// ParseSize reads a size such as 512MB, 1.5GB or 2G (binary units: a GB
// is 1024 MB, as free(1) and systemd count).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		shift  uint
	}{{"GB", 30}, {"G", 30}, {"GiB", 30}, {"MB", 20}, {"M", 20}, {"MiB", 20}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || f <= 0 {
				break
			}
			return int64(f * float64(int64(1)<<u.shift)), nil
		}
	}
	return 0, fmt.Errorf("%q is not a size; write one such as 1500MB or 2GB", s)
}

func (c *Config) validateMemory(bad func(key, format string, args ...any)) {
	m := c.Memory
	switch v := strings.TrimSpace(m.RestartAbove); v {
	case "", "auto", "off":
	default:
		n, err := ParseSize(v)
		if err != nil {
			bad("memory.restart_above", "%q is not a size; use one such as 1500MB or 2GB, auto, or off", v)
		} else if n < 256<<20 {
			bad("memory.restart_above", "%s is below 256MB, under what the gateway needs to start (about 900 MB); use auto or a size such as 1500MB", v)
		}
	}
	if m.Quiet < time.Second || m.Quiet > time.Hour {
		bad("memory.quiet", "%s is out of range; use 1s to 1h (default 30s)", m.Quiet)
	}
	if m.Interval < 100*time.Millisecond || m.Interval > time.Hour {
		bad("memory.interval", "%s is out of range; use 100ms to 1h (default 30s)", m.Interval)
	}
}
