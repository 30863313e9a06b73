package main

import "testing"

func TestSatisfies(t *testing.T) {
	for _, tc := range []struct {
		rng string
		yes []string
		no  []string
	}{
		{">=24.16.0 <25 || >=26.1.0", // openclaw 2026.9.6
			[]string{"24.16.0", "24.21.0", "24.99.99", "26.1.0", "26.10.0", "30.0.0"},
			[]string{"22.22.0", "24.15.0", "25.0.0", "25.9.1", "26.0.0"}},
		{"^20.17.0 || >=22.9.0", // npm 11.21.2
			[]string{"20.17.0", "20.99.0", "22.9.0", "24.21.0"},
			[]string{"18.20.4", "20.16.9", "21.7.3", "22.8.0"}},
		{">= 1.2.3", []string{"1.2.3", "2.0.0"}, []string{"1.2.2"}},
		{">1.2.3", []string{"1.2.4"}, []string{"1.2.3"}},
		{">1.2", []string{"1.3.0"}, []string{"1.2.9"}},
		{"<=24", []string{"24.99.0"}, []string{"25.0.0"}},
		{"<=1.2.3", []string{"1.2.3"}, []string{"1.2.4"}},
		{"1.2.x", []string{"1.2.0", "1.2.7"}, []string{"1.3.0", "1.1.9"}},
		{"=1.2.3", []string{"1.2.3"}, []string{"1.2.4"}},
		{"24", []string{"24.0.0", "24.21.0"}, []string{"25.0.0", "23.9.9"}},
		{"~1.2.3", []string{"1.2.3", "1.2.9"}, []string{"1.3.0", "1.2.2"}},
		{"~1", []string{"1.9.0"}, []string{"2.0.0"}},
		{"^0.2.3", []string{"0.2.3", "0.2.9"}, []string{"0.3.0"}},
		{"^0.0.3", []string{"0.0.3"}, []string{"0.0.4"}},
		{"^1.x", []string{"1.0.0", "1.9.9"}, []string{"2.0.0", "0.9.0"}},
		{"1.2 - 2.3", []string{"1.2.0", "2.3.9"}, []string{"1.1.9", "2.4.0"}},
		{"1.2.3 - 2.3.4", []string{"2.3.4"}, []string{"2.3.5"}},
		{"*", []string{"0.0.0", "99.0.0"}, nil},
		{"", []string{"1.0.0"}, nil},
		{"<*", nil, []string{"1.0.0"}},
		{"v24.x", []string{"24.1.0"}, []string{"25.0.0"}},
	} {
		for _, v := range tc.yes {
			if ok, err := satisfies(v, tc.rng); !ok || err != nil {
				t.Errorf("satisfies(%q, %q) = %v, %v; want true", v, tc.rng, ok, err)
			}
		}
		for _, v := range tc.no {
			if ok, err := satisfies(v, tc.rng); ok || err != nil {
				t.Errorf("satisfies(%q, %q) = %v, %v; want false", v, tc.rng, ok, err)
			}
		}
	}
}

func TestSatisfiesErrors(t *testing.T) {
	for _, tc := range []struct{ v, rng string }{
		{"24.21", ">=24"},
		{"24.21.0-rc.1", ">=24"},
		{"24.21.0", ">=24.16.0-beta"},
		{"24.21.0", ">="},
		{"24.21.0", "latest"},
		{"24.21.0", "1.2.3.4"},
		{"24.21.0", ">=1 || 01.2"},
	} {
		if ok, err := satisfies(tc.v, tc.rng); err == nil {
			t.Errorf("satisfies(%q, %q) = %v, nil; want an error", tc.v, tc.rng, ok)
		}
	}
}
