package service

import (
	"os/user"
	"strings"
	"testing"
)

// TestEnsureAccount covers what runs without creating accounts (the
// namespace tests in cmd/openclawd/cli create them with fake tools).
func TestEnsureAccount(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(me.Gid)
	if err != nil || g.Name != me.Username {
		t.Skipf("the current user %s has no group of its own name", me.Username)
	}
	tests := []struct {
		name, user, wantErr string
	}{
		{name: "an existing user and group: no tool runs", user: me.Username},
		{name: "a missing one, without groupadd", user: "openclawd-test-none", wantErr: "creating the service group openclawd-test-none (config key user): groupadd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir()) // no groupadd, no useradd
			err := EnsureAccount(tt.user, "/var/lib/openclawd")
			if tt.wantErr == "" && err != nil {
				t.Errorf("EnsureAccount(%s) = %v", tt.user, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("EnsureAccount(%s) = %v; want an error with %q", tt.user, err, tt.wantErr)
			}
		})
	}
}
