package pins

import "testing"

func TestOpenclaw(t *testing.T) {
	tests := []struct {
		name, override, version, integrity string
		lock                               bool
	}{
		{name: "the generated pins", version: OpenclawVersion, integrity: OpenclawIntegrity, lock: true},
		{name: "a build's override", override: "2026.9.5 sha512-abc", version: "2026.9.5", integrity: "sha512-abc"},
		{name: "a malformed override is ignored", override: "2026.9.5", version: OpenclawVersion, integrity: OpenclawIntegrity, lock: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := override
			override = tt.override
			defer func() { override = old }()
			v, i, l := Openclaw()
			if v != tt.version || i != tt.integrity || (l != nil) != tt.lock {
				t.Errorf("Openclaw() = %s %s lock %v; want %s %s lock %v", v, i, l != nil, tt.version, tt.integrity, tt.lock)
			}
		})
	}
}
