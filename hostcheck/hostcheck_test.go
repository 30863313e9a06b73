//go:build linux

package hostcheck

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func meminfoText(totalKB, swapKB int64) string {
	return "MemTotal:       " + itoa(totalKB) + " kB\nMemFree:          100000 kB\nMemAvailable:     " +
		itoa(totalKB/2) + " kB\nBuffers:           1000 kB\nSwapTotal:      " + itoa(swapKB) + " kB\nSwapFree:       " + itoa(swapKB) + " kB\n"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMemory(t *testing.T) {
	for _, tc := range []struct {
		name        string
		total, swap int64 // kB
		want        Level
	}{
		{"1 GB no swap", 1 << 20, 0, Error},
		{"1 GB plus 1 GB swap", 1 << 20, 1 << 20, OK},
		{"4 GB", 4 << 20, 0, OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "meminfo")
			if err := os.WriteFile(p, []byte(meminfoText(tc.total, tc.swap)), 0o644); err != nil {
				t.Fatal(err)
			}
			r := checkMemory(p)
			if r.Level != tc.want {
				t.Fatalf("level %s, want %s: %s", r.Level, tc.want, r.Detail)
			}
			if tc.want == Error && r.Fix != "sudo openclawd doctor --fix" {
				t.Errorf("fix %q", r.Fix)
			}
			if !strings.Contains(r.Detail, "available") {
				t.Errorf("detail lacks MemAvailable: %s", r.Detail)
			}
		})
	}
	t.Run("real /proc/meminfo", func(t *testing.T) {
		m, err := readMeminfo("/proc/meminfo")
		if err != nil {
			t.Fatal(err)
		}
		if m.total < 64*mib || m.avail <= 0 || m.avail > m.total {
			t.Fatalf("insane meminfo: %+v", m)
		}
		if r := checkMemory("/proc/meminfo"); r.Level == Skip {
			t.Fatalf("skipped: %s", r.Detail)
		}
	})
}

func TestSwapPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		ram  int64
		want int64
	}{
		{"512 MB", 512 * mib, 1536 * mib},
		{"1 GB", gib, gib},
		{"1.5 GB gets the minimum", 1536 * mib, gib},
		{"2 GB none", 2 * gib, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := SwapPlan(tc.ram); got != tc.want {
				t.Fatalf("SwapPlan(%d) = %d, want %d", tc.ram, got, tc.want)
			}
		})
	}
}

// loopFS mounts a fresh ext4 image of sizeMB with the given mkfs args.
func loopFS(t *testing.T, sizeMB int, mkfs ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("loop mounts need root")
		}
		t.Skip("loop mounts need root")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	run(t, "truncate", "-s", itoa(int64(sizeMB))+"M", img)
	run(t, "mkfs.ext4", append(append([]string{"-q", "-F"}, mkfs...), img)...)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", "-o", "loop", img, mnt)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	return mnt
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

func find(rs []Result, name string) Result {
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	return Result{}
}

func TestDiskFull(t *testing.T) {
	mnt := loopFS(t, 64)
	state := filepath.Join(mnt, "state")
	// Fill: a file grows until ENOSPC.
	f, err := os.Create(filepath.Join(mnt, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, mib)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	rs := checkDisk(state) // not yet made: measured on its parent
	d := find(rs, "disk")
	if d.Level != Error || !strings.Contains(d.Detail, "need 1.5 GB") || d.Fix == "" {
		t.Fatalf("disk: %+v", d)
	}
}

func TestInodesExhausted(t *testing.T) {
	mnt := loopFS(t, 64, "-N", "256") // few inodes, much space
	for i := 0; ; i++ {
		f, err := os.Create(filepath.Join(mnt, "f"+itoa(int64(i))))
		if err != nil {
			break
		}
		f.Close()
	}
	i := find(checkDisk(mnt), "inodes")
	if i.Level != Error || !strings.Contains(i.Detail, "0 inodes free") || i.Fix == "" {
		t.Fatalf("inodes: %+v", i)
	}
}

func TestMakeSwap(t *testing.T) {
	mnt := loopFS(t, 64)
	path := filepath.Join(mnt, "swapfile")
	fstab := filepath.Join(t.TempDir(), "fstab")
	if err := os.WriteFile(fstab, []byte("UUID=x / ext4 defaults 0 1"), 0o640); err != nil {
		t.Fatal(err)
	}
	err := makeSwap(path, 16*mib, fstab)
	b, _ := os.ReadFile(fstab)
	if err != nil {
		// swapon refused (container, no CAP_SYS_ADMIN over swap): the
		// promise is a clean undo.
		t.Logf("makeSwap: %v", err)
		if _, serr := os.Stat(path); !os.IsNotExist(serr) {
			t.Fatalf("swap file left after failure: %v", serr)
		}
		if strings.Contains(string(b), "swap") {
			t.Fatalf("fstab touched after failure:\n%s", b)
		}
		return
	}
	t.Cleanup(func() { exec.Command("swapoff", path).Run() })
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != 16*mib {
		t.Fatalf("swap file: %v %v", st, err)
	}
	sig := make([]byte, 10)
	f, _ := os.Open(path)
	f.ReadAt(sig, 4096-10)
	f.Close()
	if string(sig) != "SWAPSPACE2" {
		t.Fatalf("no swap signature: %q", sig)
	}
	if err := makeSwap(path, 16*mib, fstab); err != nil {
		t.Fatalf("second run: %v", err)
	}
	b, _ = os.ReadFile(fstab)
	if n := strings.Count(string(b), path+" none swap sw 0 0\n"); n != 1 {
		t.Fatalf("fstab has the line %d times:\n%s", n, b)
	}
	if st, _ := os.Stat(fstab); st.Mode().Perm() != 0o640 {
		t.Errorf("fstab mode %v, want 0640", st.Mode().Perm())
	}
}

func BenchmarkRun(b *testing.B) {
	o := Options{StateDir: b.TempDir()}
	for b.Loop() {
		if rs := Run(context.Background(), o); len(rs) == 0 {
			b.Fatal("no results")
		}
	}
}

// TestRunLocal: with no domain and no daemon the network checks skip with
// their reason, and the local ones all measure something.
func TestRunLocal(t *testing.T) {
	rs := Run(context.Background(), Options{StateDir: t.TempDir()})
	want := map[string]Level{"ipv6": Skip, "dns": Skip, "reach_http": Skip, "reach_https": Skip}
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.Name] = true
		if w, ok := want[r.Name]; ok && r.Level != w {
			t.Errorf("%s: %s, want %s", r.Name, r.Level, w)
		}
		if r.Detail == "" {
			t.Errorf("%s: no detail", r.Name)
		}
		if r.Level == Error && r.Fix == "" {
			t.Errorf("%s: an error without a fix: %s", r.Name, r.Detail)
		}
		t.Logf("%-11s %-5s %s", r.Name, r.Level, r.Detail)
	}
	for _, n := range []string{"memory", "disk", "inodes", "clock", "ipv6", "dns", "reach_http", "reach_https", "firewall"} {
		if !seen[n] {
			t.Errorf("no %s result", n)
		}
	}
	for _, n := range []string{"memory", "disk", "inodes", "clock"} {
		if r := find(rs, n); r.Level == Skip {
			t.Errorf("%s skipped on Linux: %s", n, r.Detail)
		}
	}
}
