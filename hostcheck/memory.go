package hostcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

const (
	gib       = 1 << 30
	mib       = 1 << 20
	wantTotal = 2 * gib // RAM+swap: Node, openclaw and Caddy with headroom for npm ci
)

type meminfo struct{ total, avail, swap int64 }

func readMeminfo(path string) (meminfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return meminfo{}, fmt.Errorf("reading %s: %w", path, err)
	}
	var m meminfo
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return meminfo{}, fmt.Errorf("parsing %s in %s: %w", k, path, err)
		}
		n *= 1024 // kB
		switch k {
		case "MemTotal":
			m.total, seen = n, seen+1
		case "MemAvailable":
			m.avail = n
		case "SwapTotal":
			m.swap = n
		}
	}
	if seen == 0 {
		return meminfo{}, fmt.Errorf("%s has no MemTotal", path)
	}
	return m, nil
}

// Memory is Run's memory check alone (doctor --fix's question).
func Memory() Result { return checkMemory("/proc/meminfo") }

// MemAvailable is the host's MemAvailable in bytes.
func MemAvailable() (int64, error) {
	m, err := readMeminfo("/proc/meminfo")
	return m.avail, err
}

func checkMemory(path string) Result {
	r := Result{Name: "memory"}
	m, err := readMeminfo(path)
	if err != nil {
		r.Level, r.Detail = Skip, "cannot read memory: "+err.Error()
		return r
	}
	r.Detail = fmt.Sprintf("RAM %s, swap %s, available %s (need RAM+swap >= %s)",
		human(m.total), human(m.swap), human(m.avail), human(wantTotal))
	switch {
	case m.total+m.swap < wantTotal:
		r.Level = Error
		size, p := SwapPlan(m.total)
		r.Detail += fmt.Sprintf("; npm and the gateway may be OOM-killed; a %s swap file at %s fixes it", human(size), p)
		r.Fix = "sudo openclawd doctor --fix"
	default:
		r.Level = OK
	}
	return r
}

// human formats bytes as MB under 1 GB, else GB with one decimal.
func human(n int64) string {
	if n < gib {
		return fmt.Sprintf("%d MB", n/mib)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/gib)
}
