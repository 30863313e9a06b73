package account

import (
	"os/user"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name    string
		user    string
		wantUID int
		wantErr string
	}{
		{"root", "root", 0, ""},
		{"nobody", "nobody", 65534, ""},
		{"missing names the fix", "no-such-user-ocd", -1, "useradd --system"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Lookup(tt.user)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Lookup(%q) = %v; want an error containing %q", tt.user, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				if _, lerr := user.Lookup(tt.user); lerr != nil {
					t.Skipf("no %s user on this host", tt.user)
				}
				t.Fatal(err)
			}
			if a.UID != tt.wantUID || a.IsRoot() != (tt.wantUID == 0) {
				t.Errorf("Lookup(%q) = uid %d root %v; want uid %d", tt.user, a.UID, a.IsRoot(), tt.wantUID)
			}
			c := a.Credential()
			if c.Uid != uint32(a.UID) || c.Gid != uint32(a.GID) || c.Groups == nil {
				t.Errorf("Credential() = %+v; want uid %d gid %d and a non-nil group list", c, a.UID, a.GID)
			}
		})
	}
}
