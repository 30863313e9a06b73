package edit

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openclawd/openclawd/packaging"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// setupEdits are what `openclawd setup --tls acme …` changes.
var setupEdits = []Edit{
	{"tls.mode", "acme"},
	{"tls.domain", []string{"claw.example.com", "www.claw.example.com"}},
	{"tls.email", "ops@example.com"},
	{"tls.acme_ca", "https://127.0.0.1:14000/dir"},
	{"gateway.env_file", "/etc/openclawd/gateway.env"},
}

// TestExampleGolden edits a copy of openclawd.example.yaml: every comment,
// blank line and untouched key must survive byte for byte.
func TestExampleGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, changed, err := Apply(in, setupEdits...)
	if err != nil || !changed {
		t.Fatalf("Apply: changed %v, %v", changed, err)
	}
	golden := filepath.Join("testdata", "example.golden")
	if *update {
		os.WriteFile(golden, out, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, out)
	}
	// Only the five edited lines differ, whatever the golden says.
	a, b := strings.Split(string(in), "\n"), strings.Split(string(out), "\n")
	if len(a) != len(b) {
		t.Fatalf("%d lines became %d", len(a), len(b))
	}
	diff := 0
	for i := range a {
		if a[i] != b[i] {
			diff++
		}
	}
	if diff != len(setupEdits) {
		t.Errorf("%d lines changed; want %d", diff, len(setupEdits))
	}
	// A second run changes nothing and returns the same bytes.
	again, changed, err := Apply(out, setupEdits...)
	if err != nil || changed || !bytes.Equal(again, out) {
		t.Errorf("second Apply: changed %v, err %v, same bytes %v", changed, err, bytes.Equal(again, out))
	}
}

// TestShippedConfigs guards against the example and the packaged configs
// drifting into a shape the editor cannot handle: setup edits them.
func TestShippedConfigs(t *testing.T) {
	example, err := os.ReadFile("../../openclawd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{
		"openclawd.example.yaml": string(example),
		"packaging linux":        packaging.LinuxConfig(),
		"packaging darwin":       packaging.DarwinConfigFile("/opt/homebrew"),
	} {
		out, changed, err := Apply([]byte(doc), setupEdits...)
		if err != nil || !changed {
			t.Errorf("%s: changed %v, %v", name, changed, err)
			continue
		}
		if d := strings.Count(string(out), "\n") - strings.Count(doc, "\n"); d != 0 {
			t.Errorf("%s: %+d lines; every key exists, so none should be added", name, d)
		}
	}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		edits []Edit
		want  string
	}{
		{"plain scalar, comment kept",
			"tls:\n  mode: off   # no HTTPS\n  email: x\n",
			[]Edit{{"tls.mode", "internal"}},
			"tls:\n  mode: internal   # no HTTPS\n  email: x\n"},
		{"double-quoted with escapes",
			"tls:\n  email: \"a\\\"b\" # c\n",
			[]Edit{{"tls.email", "me@example.com"}},
			"tls:\n  email: me@example.com # c\n"},
		{"single-quoted",
			"tls:\n  email: 'it''s'\n",
			[]Edit{{"tls.email", "off"}},
			"tls:\n  email: \"off\"\n"},
		{"empty value",
			"tls:\n  email:\n  mode: acme\n",
			[]Edit{{"tls.email", "a@b.c"}},
			"tls:\n  email: a@b.c\n  mode: acme\n"},
		{"empty value with a comment",
			"tls:\n  email: # later\n",
			[]Edit{{"tls.email", "a@b.c"}},
			"tls:\n  email: a@b.c # later\n"},
		{"missing key goes to the end of its section, before the next section's comment",
			"gateway:\n  port: 1\n  env:\n    A: b\n\n# node\nnode:\n  version: \"\"\n",
			[]Edit{{"gateway.env_file", "/e"}},
			"gateway:\n  port: 1\n  env:\n    A: b\n  env_file: /e\n\n# node\nnode:\n  version: \"\"\n"},
		{"missing section is appended",
			"state_dir: /x\n",
			[]Edit{{"tls.mode", "acme"}, {"tls.email", "a@b.c"}},
			"state_dir: /x\ntls:\n  mode: acme\n  email: a@b.c\n"},
		{"no final newline",
			"state_dir: /x",
			[]Edit{{"tls.mode", "acme"}},
			"state_dir: /x\ntls:\n  mode: acme\n"},
		{"empty file",
			"",
			[]Edit{{"tls.domain", []string{"a.example"}}},
			"tls:\n  domain: [a.example]\n"},
		{"comment-only file",
			"# nothing yet\n",
			[]Edit{{"tls.mode", "internal"}},
			"# nothing yet\ntls:\n  mode: internal\n"},
		{"empty section",
			"tls:\nstate_dir: /x\n",
			[]Edit{{"tls.mode", "acme"}},
			"tls:\n  mode: acme\nstate_dir: /x\n"},
		{"four-space indent is followed",
			"tls:\n    mode: \"off\"\n",
			[]Edit{{"tls.email", "a@b.c"}},
			"tls:\n    mode: \"off\"\n    email: a@b.c\n"},
		{"flow list",
			"tls:\n  domain: [] # names\n",
			[]Edit{{"tls.domain", []string{"a.example", "b.example"}}},
			"tls:\n  domain: [a.example, b.example] # names\n"},
		{"block list keeps block style",
			"tls:\n  domain:\n    - old.example\n    - older.example\n  email: x\n",
			[]Edit{{"tls.domain", []string{"new.example"}}},
			"tls:\n  domain:\n    - new.example\n  email: x\n"},
		{"block list emptied",
			"tls:\n  domain:\n  - old.example\n  email: x\n",
			[]Edit{{"tls.domain", []string{}}},
			"tls:\n  domain: []\n  email: x\n"},
		{"unchanged values leave the bytes alone",
			"tls:\n  mode: 'acme'\n  domain:\n    - a.example\n  email:\n",
			[]Edit{{"tls.mode", "acme"}, {"tls.domain", []string{"a.example"}}, {"tls.email", ""}},
			"tls:\n  mode: 'acme'\n  domain:\n    - a.example\n  email:\n"},
		{"values YAML would misread are quoted",
			"tls:\n  email: x\n",
			[]Edit{{"tls.email", "yes: #no"}},
			"tls:\n  email: 'yes: #no'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := Apply([]byte(tt.in), tt.edits...)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out, tt.want)
			}
			if changed != (tt.in != tt.want) {
				t.Errorf("changed = %v", changed)
			}
		})
	}
}

func TestApplyRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		edit     Edit
		want     string
	}{
		{"flow mapping", "tls: {mode: acme}\n", Edit{"tls.email", "a@b.c"}, "flow style"},
		{"block scalar", "tls:\n  email: |\n    a@b.c\n", Edit{"tls.email", "x@y.z"}, "block scalar"},
		{"list where a value is wanted", "tls:\n  email: [a]\n", Edit{"tls.email", "x"}, "holds a list"},
		{"mapping where a value is wanted", "tls:\n  email:\n    a: b\n", Edit{"tls.email", "x"}, "holds a mapping"},
		{"scalar where a section is", "tls: off\n", Edit{"tls.mode", "acme"}, "tls is not a mapping"},
		{"multi-line value", "tls:\n  email: x\n", Edit{"tls.email", "a\nb"}, "one line"},
		{"broken YAML", "tls: [\n", Edit{"tls.mode", "acme"}, "parsing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := Apply([]byte(tt.in), tt.edit)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want one containing %q", err, tt.want)
			}
			if changed || string(out) != tt.in {
				t.Errorf("refused edit still changed the document: %q", out)
			}
		})
	}
}
