package openclaw

import "testing"

func TestHeapMB(t *testing.T) {
	tests := []struct {
		name     string
		ram      int64
		override int
		want     int64
	}{
		{"1 GiB VPS: three quarters of RAM", 1024, 0, 768},
		{"2 GiB VPS: floor of 2048 capped at 0.75·RAM", 2048, 0, 1536},
		{"4 GiB: 2048", 4096, 0, 2048},
		{"24 GiB: half, under the 8192 cap", 24576, 0, 8192},
		{"64 GiB: RAM/4", 65536, 0, 16384},
		{"unknown RAM", 0, 0, 2048},
		{"override", 4096, 3000, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HeapMB(tt.ram, tt.override); got != tt.want {
				t.Errorf("HeapMB(%d, %d) = %d; want %d", tt.ram, tt.override, got, tt.want)
			}
		})
	}
}
