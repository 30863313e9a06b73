package backup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openclawd/openclawd/config"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// archivesAt are archives made at each time.
func archivesAt(ts ...time.Time) []Archive {
	var out []Archive
	for _, t := range ts {
		out = append(out, Archive{Name: archiveName(t), Created: t, Size: 1})
	}
	return out
}

func TestPrune(t *testing.T) {
	// One archive a day at 03:00, 2026-10-01 to 2026-12-06 (a Sunday).
	var daily []time.Time
	for d := at("2026-10-01T03:00:00Z"); !d.After(at("2026-12-06T03:00:00Z")); d = d.AddDate(0, 0, 1) {
		daily = append(daily, d)
	}
	day := func(s string) time.Time { return at(s + "T03:00:00Z") }
	tests := []struct {
		name string
		have []time.Time
		keep config.Keep
		want []time.Time // kept
	}{
		{"none", nil, config.Keep{Daily: 7, Weekly: 4, Monthly: 6}, nil},
		{"one, nothing kept by count", []time.Time{day("2026-12-06")}, config.Keep{}, []time.Time{day("2026-12-06")}},
		{"zero keeps: the newest only", daily, config.Keep{}, []time.Time{day("2026-12-06")}},
		{"daily: the newest of each day", []time.Time{
			at("2026-12-06T02:00:00Z"), at("2026-12-06T01:00:00Z"), at("2026-12-05T23:59:59Z"),
			at("2026-12-05T00:00:00Z"), at("2026-12-04T12:00:00Z"),
		}, config.Keep{Daily: 2}, []time.Time{at("2026-12-06T02:00:00Z"), at("2026-12-05T23:59:59Z")}},
		{"daily counts days with an archive", []time.Time{day("2026-12-06"), day("2026-12-01"), day("2026-11-20")},
			config.Keep{Daily: 2}, []time.Time{day("2026-12-06"), day("2026-12-01")}},
		{"days are UTC days", []time.Time{
			at("2026-12-05T23:00:00Z"), at("2026-12-06T00:30:00+02:00"), // 2026-12-05T22:30Z
			at("2026-12-04T23:00:00Z"),
		}, config.Keep{Daily: 2}, []time.Time{at("2026-12-05T23:00:00Z"), at("2026-12-04T23:00:00Z")}},
		{"weeks start on Monday", []time.Time{
			at("2026-12-07T00:00:00Z"), at("2026-12-06T23:59:59Z"), at("2026-12-01T00:00:00Z"), at("2026-11-30T00:00:00Z"),
			at("2026-11-29T23:00:00Z"),
		}, config.Keep{Weekly: 3}, []time.Time{at("2026-12-07T00:00:00Z"), at("2026-12-06T23:59:59Z"), at("2026-11-29T23:00:00Z")}},
		{"ISO weeks across the new year", []time.Time{
			day("2027-01-04"), day("2027-01-01"), day("2026-12-31"), day("2026-12-27"),
		}, config.Keep{Weekly: 2}, []time.Time{day("2027-01-04"), day("2027-01-01")}},
		{"months", []time.Time{
			at("2027-02-01T00:00:00Z"), at("2027-01-31T23:59:59Z"), at("2027-01-01T00:00:00Z"),
			at("2026-12-31T23:59:59Z"), at("2026-11-15T00:00:00Z"),
		}, config.Keep{Monthly: 3}, []time.Time{at("2027-02-01T00:00:00Z"), at("2027-01-31T23:59:59Z"), at("2026-12-31T23:59:59Z")}},
		{"last: the newest N, several a day", []time.Time{
			at("2026-12-06T09:00:00Z"), at("2026-12-06T08:00:00Z"), at("2026-12-06T03:00:00Z"), at("2026-12-05T03:00:00Z"),
		}, config.Keep{Last: 2, Daily: 2}, []time.Time{at("2026-12-06T09:00:00Z"), at("2026-12-06T08:00:00Z"), at("2026-12-05T03:00:00Z")}},
		{"more kept than there are", daily[len(daily)-3:], config.Keep{Daily: 7, Weekly: 4, Monthly: 6}, daily[len(daily)-3:]},
		{"grandfather-father-son", daily, config.Keep{Daily: 7, Weekly: 4, Monthly: 3}, []time.Time{
			day("2026-12-06"), day("2026-12-05"), day("2026-12-04"), day("2026-12-03"), day("2026-12-02"),
			day("2026-12-01"), day("2026-11-30"), // daily
			day("2026-11-29"), day("2026-11-22"), day("2026-11-15"), // weekly: the Sundays before
			day("2026-10-31"), // monthly: October's last (November's is 11-30)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			have := archivesAt(tc.have...)
			// Order in does not matter; the slice is not changed.
			shuffled := slices.Clone(have)
			slices.Reverse(shuffled)
			if len(shuffled) > 2 {
				shuffled[0], shuffled[len(shuffled)/2] = shuffled[len(shuffled)/2], shuffled[0]
			}
			before := slices.Clone(shuffled)
			drop := Prune(shuffled, tc.keep)
			if !slices.Equal(shuffled, before) {
				t.Error("Prune reordered its argument")
			}
			dropped := map[string]bool{}
			for _, x := range drop {
				dropped[x.Name] = true
			}
			var kept []time.Time
			for _, x := range have {
				if !dropped[x.Name] {
					kept = append(kept, x.Created)
				}
			}
			slices.SortFunc(kept, func(a, b time.Time) int { return b.Compare(a) })
			want := slices.Clone(tc.want)
			slices.SortFunc(want, func(a, b time.Time) int { return b.Compare(a) })
			if !slices.EqualFunc(kept, want, time.Time.Equal) {
				t.Errorf("kept\n%v\nwant\n%v", kept, want)
			}
			if len(drop)+len(kept) != len(have) {
				t.Errorf("dropped %d, kept %d, of %d", len(drop), len(kept), len(have))
			}
			if !slices.IsSortedFunc(drop, func(a, b Archive) int { return b.Created.Compare(a.Created) }) {
				t.Error("drop is not newest first")
			}
		})
	}
}

func TestListPruneDir(t *testing.T) {
	dir := t.TempDir()
	times := []time.Time{at("2026-12-06T02:00:00Z"), at("2026-12-05T02:00:00Z"), at("2026-12-04T02:00:00Z"), at("2026-11-01T02:00:00Z")}
	for i, tm := range times {
		write(t, filepath.Join(dir, archiveName(tm)), []byte(strings.Repeat("x", i+1)))
	}
	others := []string{".lock", "record.json", ".partial-123", "openclawd-backup-bad.tar", "openclawd-backup-20261207T000000Z.tar.tmp", "notes.txt"}
	for _, n := range others {
		write(t, filepath.Join(dir, n), nil)
	}
	// A directory with an archive's name is not an archive.
	if err := os.Mkdir(filepath.Join(dir, archiveName(at("2026-12-07T00:00:00Z"))), 0o700); err != nil {
		t.Fatal(err)
	}
	list, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(times) {
		t.Fatalf("List = %+v", list)
	}
	for i, x := range list {
		if x.Name != archiveName(times[i]) || !x.Created.Equal(times[i]) || x.Size != int64(i+1) {
			t.Errorf("List[%d] = %+v", i, x)
		}
	}
	drop, err := PruneDir(dir, config.Keep{Daily: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(drop) != 2 || drop[0].Name != archiveName(times[2]) || drop[1].Name != archiveName(times[3]) {
		t.Errorf("PruneDir dropped %+v", drop)
	}
	if list, _ := List(dir); len(list) != 2 || list[0].Name != archiveName(times[0]) || list[1].Name != archiveName(times[1]) {
		t.Errorf("List after PruneDir = %+v", list)
	}
	for _, n := range others {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("PruneDir removed %s: %v", n, err)
		}
	}
	// A missing directory lists nothing.
	if list, err := List(filepath.Join(dir, "none")); err != nil || len(list) != 0 {
		t.Errorf("List of a missing dir = %+v, %v", list, err)
	}
}

func TestArchiveTime(t *testing.T) {
	want := at("2026-12-06T02:54:48Z")
	tests := []struct {
		name string
		ok   bool
	}{
		{"openclawd-backup-20261206T025448Z.tar", true},
		{"openclawd-backup-20261206T025448Z.tar.age", true},
		{"openclawd-backup-20261206T025448Z.tar.gz", false},
		{"openclawd-backup-20261206T025448Z.tar.age.age", false},
		{"openclawd-backup-20261206T025448Z.age", false},
		{"openclawd-backup-20261206T025448Z", false},
		{"openclawd-backup-20261206T025448.tar", false},
		{"openclawd-backup-20261206T025448+0100.tar", false},
		{"openclawd-backup-20261306T025448Z.tar", false},
		{"openclawd-backup-2026-12-06T02:54:48Z.tar", false},
		{"openclawd-backup-.tar", false},
		{".partial-openclawd-backup-20261206T025448Z.tar", false},
		{"x-openclawd-backup-20261206T025448Z.tar", false},
		{"openclaw-backup-20261206T025448Z.tar", false},
		{innerRoot + ".tar.gz", false},
		{"", false},
	}
	for _, tc := range tests {
		got, ok := ArchiveTime(tc.name)
		if ok != tc.ok || ok && !got.Equal(want) {
			t.Errorf("ArchiveTime(%q) = %v, %v; want ok %v", tc.name, got, ok, tc.ok)
		}
	}
	// archiveName writes UTC, whatever the zone; ArchiveTime reads it back.
	local := time.Date(2026, 12, 6, 4, 54, 48, 0, time.FixedZone("EET", 2*3600))
	if n := archiveName(local); n != "openclawd-backup-20261206T025448Z.tar" {
		t.Errorf("archiveName = %s", n)
	}
	if got, ok := ArchiveTime(archiveName(local)); !ok || !got.Equal(local) {
		t.Errorf("round trip: %v, %v", got, ok)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
		bad  bool
	}{
		{"2026.9.6", "2026.9.6", 0, false},
		{"2026.9.6", "2026.9.7", -1, false},
		{"2026.9.7", "2026.9.6", 1, false},
		{"2026.10.1", "2026.9.30", 1, false}, // numbers, not strings
		{"2026.9.10", "2026.9.9", 1, false},
		{"2025.12.31", "2026.1.1", -1, false},
		{"2027.1.1", "2026.12.31", 1, false},
		{"v2026.9.6", "2026.9.6", 0, false},
		{"2026.9.6-beta.1", "2026.9.6", 0, false}, // a pre-release counts as its release
		{"2026.9.6-beta.1", "2026.9.5", 1, false},
		{"2026.9.6", "2026.9.7-rc.1", -1, false},
		{"2026.9", "2026.9.6", 0, true},
		{"2026.9.6", "2026.9.6.1", 0, true},
		{"2026.9.x", "2026.9.6", 0, true},
		{"2026.9.6", "latest", 0, true},
		{"", "2026.9.6", 0, true},
		{"2026..6", "2026.9.6", 0, true},
	}
	for _, tc := range tests {
		got, err := compareVersions(tc.a, tc.b)
		switch {
		case tc.bad && (err == nil || !strings.Contains(err.Error(), "is not a version like 2026.9.6")):
			t.Errorf("compareVersions(%q, %q) = %d, %v; want an error", tc.a, tc.b, got, err)
		case !tc.bad && (err != nil || got != tc.want):
			t.Errorf("compareVersions(%q, %q) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
}
