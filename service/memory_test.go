package service

import (
	"strings"
	"testing"
)

func TestSizeMemory(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name          string
		ram           int64
		wantMax       int64
		wantHighBelow int64
	}{
		{"1 GB VPS keeps 128 MiB outside", 961 * mib, 833 * mib, 833 * mib},
		{"2 GB keeps an eighth", 1987 * mib, 1987*mib - 1987*mib/8, 1987*mib - 1987*mib/8},
		{"24 GB keeps 2 GiB outside", 24105 * mib, 24105*mib - 2048*mib, 24105*mib - 2048*mib},
		{"tiny host still gets 512 MiB", 580 * mib, 512 * mib, 512 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := SizeMemory(tt.ram)
			if l.Max != tt.wantMax {
				t.Errorf("Max = %d MiB, want %d MiB", l.Max/mib, tt.wantMax/mib)
			}
			if l.High >= l.Max || l.High >= tt.wantHighBelow || l.High < l.Max*7/8 {
				t.Errorf("High = %d MiB for Max %d MiB, want a sixteenth below", l.High/mib, l.Max/mib)
			}
		})
	}
	text := MemoryDropIn(SizeMemory(961*mib), 961*mib)
	for _, want := range []string{"[Service]\n", "MemoryMax=833M\n", "MemoryHigh=780M\n", "961 MiB of RAM"} {
		if !strings.Contains(text, want) {
			t.Errorf("drop-in lacks %q:\n%s", want, text)
		}
	}
}
