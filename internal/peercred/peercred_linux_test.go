package peercred

import (
	"reflect"
	"testing"
)

func TestStatusGroups(t *testing.T) {
	tests := []struct {
		name   string
		status string
		want   []int
		wantOK bool
	}{
		{name: "several", status: "Name:\tnode\nUid:\t0\t0\t0\t0\nGroups:\t4 24 27 1000 \nNStgid:\t1\n", want: []int{4, 24, 27, 1000}, wantOK: true},
		{name: "none", status: "Name:\tnode\nGroups:\t\n", want: nil, wantOK: true},
		{name: "missing line", status: "Name:\tnode\n", wantOK: false},
		{name: "garbage", status: "Groups:\t4 x\n", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := statusGroups([]byte(tc.status))
			if ok != tc.wantOK || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("statusGroups() = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
