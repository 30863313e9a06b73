package embedcaddy

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// vmRSS returns this process's resident set in MB (10⁶ bytes), or -1
// where /proc is missing.
func vmRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) * 1024 / 1e6
		}
	}
	return -1
}

// BenchmarkStartStop times Start+Stop in internal mode (certificate already
// in storage) and reports RSS before the first Start and after it has
// served a proxied request, plus the size of this test binary (the
// `go test -c` output; much larger under -race). Run it alone for a clean
// RSS: go test -run '^$' -bench StartStop ./embedcaddy/
func BenchmarkStartStop(b *testing.B) {
	before := vmRSS()
	gw := freePort(b)
	upstream(b, gw)
	o := internalOpts(b, gw, "claw.localhost")
	o.Logger = nil // stderr text handler; Caddy logs little at info
	s, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	resp, body, err := get(client(internalRoots(b, s, "claw.localhost"), ""), base(o, "claw.localhost")+"/")
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET: %v %v %q", err, resp, body)
	}
	after := vmRSS()
	if err := s.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.Stop(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// After the loop: ResetTimer (which b.Loop calls) drops reported metrics.
	b.ReportMetric(before, "RSS-before-MB")
	b.ReportMetric(after, "RSS-after-MB")
	if fi, err := os.Stat(os.Args[0]); err == nil {
		b.ReportMetric(float64(fi.Size())/1e6, "testbin-MB")
	}
}
