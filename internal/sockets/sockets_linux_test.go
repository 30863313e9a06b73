package sockets

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Captured from this kernel with listeners on [::ffff:127.0.0.1]:59601,
// [::1]:59901 and [::]:58833, plus a hand-made ESTABLISHED row.
const sampleTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:E8D1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5262 1 0000000010fab59e 100 0 0 10 0
   1: 00000000000000000000000001000000:E9FD 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5261 1 000000006f0f9190 100 0 0 10 0
   2: 00000000000000000000000000000000:E5D1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5263 1 00000000cf1ece7d 100 0 0 10 0
   3: 00000000000000000000000001000000:E9FD 00000000000000000000000001000000:D431 01 00000000:00000000 00:00000000 00000000     0        0 5270 1 00000000cf1ece7d 20 4 30 10 -1
`

const sampleTCP4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1575 1 00000000a3521713 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1600 1 00000000a3521713 100 0 0 10 0
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 1601 1 00000000a3521713 100 0 0 10 0
`

func TestParseProcNetTCP(t *testing.T) {
	const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	ap := netip.MustParseAddrPort
	tests := []struct {
		name    string
		in      string
		port    int
		want    []Listener
		wantErr bool
	}{
		{
			name: "tcp6 all ports, skips established",
			in:   sampleTCP6,
			want: []Listener{
				{Addr: ap("[::ffff:127.0.0.1]:59601"), Inode: 5262, UID: 0},
				{Addr: ap("[::1]:59901"), Inode: 5261},
				{Addr: ap("[::]:58833"), Inode: 5263},
			},
		},
		{name: "tcp6 port filter", in: sampleTCP6, port: 59901, want: []Listener{{Addr: ap("[::1]:59901"), Inode: 5261}}},
		{name: "tcp6 port not present", in: sampleTCP6, port: 1, want: nil},
		{
			name: "tcp4",
			in:   sampleTCP4,
			want: []Listener{
				{Addr: ap("0.0.0.0:2024"), Inode: 1575, UID: 0},
				{Addr: ap("127.0.0.1:8080"), Inode: 1600, UID: 1000},
			},
		},
		{name: "header only", in: header, want: nil},
		{name: "empty", in: "", want: nil},
		{name: "short line", in: header + "   0: 0100007F:1F90 00000000:0000 0A\n", wantErr: true},
		{name: "bad state", in: header + "   0: 0100007F:1F90 00000000:0000 ZZ 0:0 0:0 0 0 0 1600\n", wantErr: true},
		{name: "bad address length", in: header + "   0: 0100007F00:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1600\n", wantErr: true},
		{name: "bad address hex", in: header + "   0: 0100007G:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1600\n", wantErr: true},
		{name: "missing port", in: header + "   0: 0100007F 00000000:0000 0A 0:0 0:0 0 0 0 1600\n", wantErr: true},
		{name: "bad inode", in: header + "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 x\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcNetTCP(strings.NewReader(tc.in), binary.LittleEndian, tc.port)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			for _, l := range got {
				if wantLoop := l.Addr.Port() != 58833 && l.Addr.Port() != 2024; l.Loopback() != wantLoop {
					t.Errorf("%v Loopback() = %v, want %v", l.Addr, l.Loopback(), wantLoop)
				}
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	// comm may contain spaces and ')'.
	tail := " S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615"
	tests := []struct {
		name      string
		in        string
		ppid      string
		pgrp      string
		starttime string
		wantErr   bool
	}{
		{name: "plain comm", in: "123 (node)" + tail, ppid: "1", pgrp: "42", starttime: "987654"},
		{name: "tricky comm", in: "123 (a) b (c)" + tail, ppid: "1", pgrp: "42", starttime: "987654"},
		{name: "no comm", in: "123 node S 1", wantErr: true},
		{name: "truncated", in: "123 (node) S 1 42", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseStat([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if f[statPPID] != tc.ppid || f[statPGRP] != tc.pgrp || f[statStartTime] != tc.starttime {
				t.Errorf("ppid, pgrp, starttime = %s, %s, %s; want %s, %s, %s",
					f[statPPID], f[statPGRP], f[statStartTime], tc.ppid, tc.pgrp, tc.starttime)
			}
		})
	}
}
