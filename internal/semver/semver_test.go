package semver

import (
	"strings"
	"testing"
)

func TestSatisfies(t *testing.T) {
	for _, tc := range []struct {
		name, rng string
		yes, no   []string
	}{
		{"openclaw engines", ">=24.16.0 <25 || >=26.1.0",
			[]string{"24.16.0", "24.21.0", "24.99.99", "26.1.0", "26.10.0", "30.0.0"},
			[]string{"22.22.0", "24.15.0", "25.0.0", "25.9.1", "26.0.0"}},
		{"npm engines", "^20.17.0 || >=22.9.0",
			[]string{"20.17.0", "20.99.0", "22.9.0", "24.21.0"},
			[]string{"18.20.4", "20.16.9", "21.7.3", "22.8.0"}},
		{"spaced operator", ">= 1.2.3", []string{"1.2.3", "2.0.0"}, []string{"1.2.2"}},
		{"greater", ">1.2.3", []string{"1.2.4"}, []string{"1.2.3"}},
		{"greater partial", ">1.2", []string{"1.3.0"}, []string{"1.2.9"}},
		{"at most major", "<=24", []string{"24.99.0"}, []string{"25.0.0"}},
		{"at most", "<=1.2.3", []string{"1.2.3"}, []string{"1.2.4"}},
		{"x wildcard", "1.2.x", []string{"1.2.0", "1.2.7"}, []string{"1.3.0", "1.1.9"}},
		{"equals", "=1.2.3", []string{"1.2.3"}, []string{"1.2.4"}},
		{"bare major", "24", []string{"24.0.0", "24.21.0"}, []string{"25.0.0", "23.9.9"}},
		{"tilde", "~1.2.3", []string{"1.2.3", "1.2.9"}, []string{"1.3.0", "1.2.2"}},
		{"tilde major", "~1", []string{"1.9.0"}, []string{"2.0.0"}},
		{"caret zero major", "^0.2.3", []string{"0.2.3", "0.2.9"}, []string{"0.3.0"}},
		{"caret zero minor", "^0.0.3", []string{"0.0.3"}, []string{"0.0.4"}},
		{"caret wildcard", "^1.x", []string{"1.0.0", "1.9.9"}, []string{"2.0.0", "0.9.0"}},
		{"hyphen partial", "1.2 - 2.3", []string{"1.2.0", "2.3.9"}, []string{"1.1.9", "2.4.0"}},
		{"hyphen", "1.2.3 - 2.3.4", []string{"2.3.4"}, []string{"2.3.5"}},
		{"star", "*", []string{"0.0.0", "99.0.0"}, nil},
		{"empty", "", []string{"1.0.0"}, nil},
		{"below star", "<*", nil, []string{"1.0.0"}},
		{"v prefix in range", "v24.x", []string{"24.1.0"}, []string{"25.0.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range tc.yes {
				if ok, err := Satisfies(v, tc.rng); !ok || err != nil {
					t.Errorf("Satisfies(%q, %q) = %v, %v; want true", v, tc.rng, ok, err)
				}
			}
			for _, v := range tc.no {
				if ok, err := Satisfies(v, tc.rng); ok || err != nil {
					t.Errorf("Satisfies(%q, %q) = %v, %v; want false", v, tc.rng, ok, err)
				}
			}
		})
	}
}

func TestSatisfiesErrors(t *testing.T) {
	for _, tc := range []struct{ name, v, rng string }{
		{"partial version", "24.21", ">=24"},
		{"prerelease version", "24.21.0-rc.1", ">=24"},
		{"v-prefixed version", "v24.21.0", ">=24"},
		{"prerelease in range", "24.21.0", ">=24.16.0-beta"},
		{"operator alone", "24.21.0", ">="},
		{"dist-tag", "24.21.0", "latest"},
		{"four parts", "24.21.0", "1.2.3.4"},
		{"leading zero", "24.21.0", ">=1 || 01.2"},
		{"signed", "24.21.0", ">=+1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ok, err := Satisfies(tc.v, tc.rng); err == nil {
				t.Errorf("Satisfies(%q, %q) = %v, nil; want an error", tc.v, tc.rng, ok)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name, a, b string
		want       int
	}{
		{"equal", "2026.9.6", "2026.9.6", 0},
		{"numeric minor", "2026.9.6", "2026.10.1", -1},
		{"numeric patch", "24.21.10", "24.21.9", 1},
		{"major wins", "25.0.0", "24.99.99", 1},
		{"zeros", "0.0.0", "0.0.1", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Compare(tc.a, tc.b); got != tc.want || err != nil {
				t.Errorf("Compare(%q, %q) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
			}
			if got, err := Compare(tc.b, tc.a); got != -tc.want || err != nil {
				t.Errorf("Compare(%q, %q) = %d, %v; want %d", tc.b, tc.a, got, err, -tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, a, b, bad string }{
		{"bad first", "2026.9", "2026.9.6", `"2026.9"`},
		{"bad second", "2026.9.6", "latest", `"latest"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Compare(tc.a, tc.b); err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("Compare(%q, %q) err = %v; want one naming %s", tc.a, tc.b, err, tc.bad)
			}
		})
	}
}

func TestValid(t *testing.T) {
	for _, tc := range []struct{ name, v, errPart string }{
		{"release", "24.21.0", ""},
		{"calendar release", "2026.9.6", ""},
		{"zeros", "0.0.0", ""},
		{"empty", "", "empty version"},
		{"two parts", "24.21", `"24.21" is not MAJOR.MINOR.PATCH`},
		{"four parts", "1.2.3.4", "is not MAJOR.MINOR.PATCH"},
		{"flag", "--registry=x", `"--registry=x" is not MAJOR.MINOR.PATCH`},
		{"option-like dots", "-1.2.3", `"-1" is not a number`},
		{"prerelease", "24.21.0-rc.1", `prerelease or build tag ("-rc.1")`},
		{"build tag", "24.21.0+b1", `prerelease or build tag ("+b1")`},
		{"v prefix", "v24.21.0", `"v24" is not a number`},
		{"leading zero", "24.01.0", `"01" has a leading zero`},
		{"empty part", "24..0", `"" is not a number`},
		{"dist-tag", "latest", "is not MAJOR.MINOR.PATCH"},
		{"space", "24.21.0 ", `"0 " is not a number`},
		{"overflow", "99999999999999999999.0.0", "is too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Valid(tc.v)
			if tc.errPart == "" {
				if err != nil {
					t.Fatalf("Valid(%q) = %v; want nil", tc.v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("Valid(%q) = %v; want an error containing %q", tc.v, err, tc.errPart)
			}
		})
	}
}
