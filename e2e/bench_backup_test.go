package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/backup/target"
	"github.com/openclawd/openclawd/internal/s3test"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// BenchmarkBackupRestore measures, with the real gateway and a state dir
// holding 1,000 more files of 100 MB in all (its workspace):
//   - backup: `openclawd backup` wall time, local only and with an
//     age-encrypted copy to a real S3 server on loopback; the archive's
//     size against the state's; openclawd's own peak RSS (the process,
//     not the openclaw CLI it runs);
//   - restore: `openclawd restore latest` on a running openclawd, to the
//     end of its health gate, and for scale a plain gateway restart to
//     healthy (the gateway's own stop and start).
//
// go test -run '^$' -bench BackupRestore -benchtime 3x ./e2e/
func BenchmarkBackupRestore(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: npm runs as the unprivileged install user")
	}
	s3 := s3test.Start(b)
	in := newRealInstance(b)
	state := filepath.Join(in.dir, "state")
	_, recipient, err := target.GenerateIdentity()
	if err != nil {
		b.Fatal(err)
	}
	envFile := s3EnvFile(b, in, s3)
	cfg, _ := os.ReadFile(in.cfg)
	cfg = []byte(strings.Replace(string(cfg), "gateway:\n", "gateway:\n  env_file: "+envFile+"\n", 1))
	cfg = fmt.Appendf(cfg, "\nbackup:\n  recipients: [%s]\n  targets:\n    - {name: offsite, type: s3, endpoint: %s, bucket: %s, path_style: true}\n", recipient, s3.Endpoint, s3.Bucket)
	if err := os.WriteFile(in.cfg, cfg, 0o644); err != nil {
		b.Fatal(err)
	}
	in.start()
	in.waitStatus("a healthy real gateway", 8*time.Minute, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Healthy && s.Health.Deep.HelloOK
	})
	stateBytes := fillWorkspace(b, filepath.Join(state, "openclaw", "workspace", "bench"), 1000, 100<<20)

	var local, offsite, restore, restart, openclawPart time.Duration
	var archive int64
	var rss int64
	for range b.N {
		d, r, out := timedBackup(b, in, "--local")
		local += d
		openclawPart += openclawTook(b, out)
		rss = max(rss, r)
		archive = archiveSize(b, state)
		d, _, out = timedBackup(b, in)
		if !strings.Contains(out, "copy     offsite:") {
			b.Fatalf("no offsite copy:\n%s", out)
		}
		offsite += d

		t0 := time.Now()
		if out, rc := in.cli("restore", "latest", "--config", in.cfg); rc != 0 {
			b.Fatalf("restore (rc %d): %s", rc, out)
		}
		restore += time.Since(t0)

		st, _ := in.status()
		t0 = time.Now()
		if out, rc := in.cli("restart", "--socket", in.sock); rc != 0 {
			b.Fatalf("restart: %s", out)
		}
		in.waitStatus("healthy after a restart", 5*time.Minute, func(s apitype.Status, rc int) bool {
			return rc == 0 && s.Healthy && s.Health.Deep.HelloOK && s.Gateway.PID != st.Gateway.PID
		})
		restart += time.Since(t0)
	}
	n := float64(b.N)
	b.ReportMetric(local.Seconds()/n, "backup_local_s")
	b.ReportMetric(openclawPart.Seconds()/n, "of_which_openclaw_s")
	b.ReportMetric(offsite.Seconds()/n, "backup_offsite_s")
	b.ReportMetric(restore.Seconds()/n, "restore_to_healthy_s")
	b.ReportMetric(restart.Seconds()/n, "gateway_restart_s")
	b.ReportMetric(float64(stateBytes)/1e6, "state_MB")
	b.ReportMetric(float64(archive)/1e6, "archive_MB")
	b.ReportMetric(float64(rss)/1e6, "openclawd_peak_RSS_MB")
}

// fillWorkspace writes n files of size/n bytes each, half random (what
// does not compress) and half text, as the service user's.
func fillWorkspace(b *testing.B, dir string, n int, size int64) int64 {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	per := size / int64(n)
	buf := make([]byte, per)
	var total int64
	for i := range n {
		for j := range buf {
			if j < len(buf)/2 {
				buf[j] = byte(r.Uint32())
			} else {
				buf[j] = "the quick brown fox jumps over the lazy dog\n"[j%44]
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("note-%04d.md", i))
		if err := os.WriteFile(p, buf, 0o600); err != nil {
			b.Fatal(err)
		}
		total += per
	}
	_ = filepath.Walk(filepath.Dir(dir), func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			_ = os.Lchown(p, serviceIDs.uid, serviceIDs.gid)
		}
		return nil
	})
	return total
}

// openclawTook reads "of which openclaw's own backup 1.2s" from the output.
func openclawTook(b *testing.B, out string) time.Duration {
	m := regexp.MustCompile(`of which openclaw's own backup ([0-9.]+m?s)`).FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no openclaw time in:\n%s", out)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// timedBackup runs `openclawd backup` as the service user (as the daemon's
// schedule does) and returns its wall time and its own peak RSS: VmHWM of
// that one process, sampled until it exits (wait4's rusage would be its
// largest child's, the openclaw CLI's).
func timedBackup(b *testing.B, in *instance, args ...string) (time.Duration, int64, string) {
	cmd := exec.Command(bins.openclawd, append([]string{"backup", "--config", in.cfg}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(serviceIDs.uid), Gid: uint32(serviceIDs.gid), Groups: []uint32{}}}
	cmd.Env = append(os.Environ(), "HOME="+in.dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hwm int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if v := vmHWM(cmd.Process.Pid); v > hwm {
			hwm = v
		}
		select {
		case err := <-done:
			d := time.Since(t0)
			if err != nil {
				b.Fatalf("backup %v: %v\n%s", args, err, out.String())
			}
			return d, hwm, out.String()
		case <-tick.C:
		}
	}
}

// vmHWM is a process's peak RSS in bytes, or 0.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n << 10
}

func archiveSize(b *testing.B, state string) int64 {
	names := archives(b, state)
	if len(names) == 0 {
		b.Fatal("no archive")
	}
	fi, err := os.Stat(filepath.Join(state, "backups", names[0]))
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}
