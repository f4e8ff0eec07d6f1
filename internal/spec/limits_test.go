package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// parseBounded parses src and checks that it neither runs long nor
// allocates much; the inputs here would take hours or gigabytes if expanded.
func parseBounded(t *testing.T, name, src string) error {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Parse(name, []byte(src))
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes in: %v, %d KiB allocated", len(src), elapsed, alloc>>10)
	if alloc > 64<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
	// A hang guard, not a benchmark: the failure mode is exponential.
	if elapsed > 5*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	return err
}

// laughs builds a billion-laughs document: each level is a list of nine
// aliases to the previous one, and field refers to the last level.
func laughs(levels int, field string) string {
	var b strings.Builder
	b.WriteString("kind: agent\nname: lol\nx-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "x-l%d: &l%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	fmt.Fprintf(&b, "agent:\n  prompt: hi\n  %s: *l%d\n", field, levels-1)
	return b.String()
}

func TestBillionLaughs(t *testing.T) {
	for _, field := range []string{"skills", "exec"} {
		t.Run(field, func(t *testing.T) {
			err := parseBounded(t, "lol.yaml", laughs(12, field))
			if !strings.Contains(err.Error(), fmt.Sprintf("aliases expand to more than %d nodes", maxAliasNodes)) {
				t.Errorf("error does not name the alias budget:\n%v", err)
			}
		})
	}
}

func TestMergeKeyBomb(t *testing.T) {
	// Each level merges nine copies of the previous level's mapping.
	var b strings.Builder
	b.WriteString("kind: agent\nname: m\nx-m0: &m0 {prompt: hi}\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "x-m%d: &m%d {<<: [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*m%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("agent:\n  <<: *m11\n")
	err := parseBounded(t, "merge.yaml", b.String())
	if !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Errorf("error does not name the alias budget:\n%v", err)
	}
}

func TestTooLarge(t *testing.T) {
	src := "kind: sandbox\nname: big\n# " + strings.Repeat("x", MaxSize) + "\n"
	wantErrors(t, "big.yaml", src, "big.yaml: spec is larger than the 1024 KiB limit")

	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(path)
	if !errors.Is(err, ErrInvalid) || !strings.HasSuffix(err.Error(), "spec is larger than the 1024 KiB limit") {
		t.Errorf("ParseFile: %v", err)
	}
}

func TestDeepNesting(t *testing.T) {
	n := MaxSize/2 - 100
	err := parseBounded(t, "deep.yaml", "kind: agent\nname: d\nagent: "+strings.Repeat("[", n)+strings.Repeat("]", n)+"\n")
	if !strings.Contains(err.Error(), "invalid YAML: exceeded max depth") {
		t.Errorf("error: %v", err)
	}
	err = parseBounded(t, "deep.json", `{"kind": "agent", "agent": `+strings.Repeat("[", n)+strings.Repeat("]", n)+"}")
	if !strings.Contains(err.Error(), "deep.json:1:") || !strings.Contains(err.Error(), "invalid JSON: nesting deeper than 1000 levels") {
		t.Errorf("error: %v", err)
	}
}

func TestManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("kind: sandbox\nname: many\nsandbox:\n")
	for i := range 150 {
		fmt.Fprintf(&b, "  unknown%d: 1\n", i)
	}
	_, err := Parse("many.yaml", []byte(b.String()))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxProblems+1 || lines[maxProblems] != "many.yaml: 50 more problems not shown" {
		t.Errorf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	var first *Error
	if !errors.As(err, &first) || first.Line != 4 || first.Col != 3 || first.Path != "sandbox.unknown0" {
		t.Errorf("first problem = %+v", first)
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	src := `api_version: v1
kind: pipeline
name: p
sandbox: {memory_mb: 1, network: {allow: ["*"]}}
llm: {provider: gpt}
pipeline:
  boxes:
    - {name: a, prompt: hi, timeout: soon}
  stages: [{box: b}]
`
	_, err := Parse("all.yaml", []byte(src))
	var list []*Error
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var se *Error
		if !errors.As(e, &se) {
			t.Fatalf("not an *Error: %v", e)
		}
		list = append(list, se)
	}
	want := []Error{
		{"all.yaml", 4, 22, "sandbox.memory_mb", "1 MiB is outside 128..1048576 MiB"},
		{"all.yaml", 4, 43, "sandbox.network.allow[0]", `"*": a wildcard needs a domain, as in *.example.com`},
		{"all.yaml", 5, 17, "llm.provider", `unknown provider "gpt" (valid: claude, anthropic, claude-personal, openai, codex, ollama, lm-studio, custom)`},
		{"all.yaml", 8, 38, "pipeline.boxes[0].timeout", `invalid duration "soon": want a number with a unit, like "30s" or "5m"`},
		{"all.yaml", 9, 18, "pipeline.stages[0].box", `unknown box "b" (defined: a)`},
	}
	if len(list) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(list), len(want), err)
	}
	for i := range want {
		if *list[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, *list[i], want[i])
		}
	}
}

func TestJSONErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"syntax", "{\n  \"kind\": \"agent\",\n  \"name\": 'a'\n}", `j.json:3:11: invalid JSON: invalid character '\'' looking for beginning of value`},
		{"truncated", "{\"kind\": \"agent\",\n \"name\": \"a\"", `j.json:2:13: invalid JSON: unexpected end of input`},
		{"trailing", "{\"kind\": \"sandbox\", \"name\": \"a\"}\n{}", `j.json:2:1: invalid JSON: unexpected data after the top-level value`},
		{"unknown field", "{\n\t\"kind\": \"sandbox\",\n\t\"name\": \"a\",\n\t\"sandbox\": {\"vcpu\": 2}\n}", `j.json:4:14: sandbox.vcpu: unknown field "vcpu" (did you mean "vcpus"?)`},
		{"wrong type", "{\"kind\": \"sandbox\", \"name\": \"a\", \"sandbox\": {\"vcpus\": \"2\"}}", `j.json:1:55: sandbox.vcpus: want an integer, got a string`},
		{"float", "{\"kind\": \"sandbox\", \"name\": \"a\", \"sandbox\": {\"vcpus\": 2.0}}", `j.json:1:55: sandbox.vcpus: want an integer, got a number`},
		{"duplicate", "{\"kind\": \"sandbox\", \"name\": \"a\", \"name\": \"b\"}", `j.json:1:34: name: duplicate field (first at line 1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErrors(t, "j.json", tt.src, tt.want) })
	}
}

func TestSyntaxDetection(t *testing.T) {
	yamlSrc := "kind: sandbox\nname: a\n"
	jsonSrc := `{"kind": "sandbox", "name": "a\/b"}`
	for _, tt := range []struct {
		name, src string
		ok        bool
	}{
		{"-", yamlSrc, true}, {"-", jsonSrc, false}, // sniffed; "a/b" is a bad name, proving JSON escapes work
		{"spec", "\ufeff  \n" + jsonSrc, false},
		{"x.yml", yamlSrc, true}, {"x.json", yamlSrc, false},
	} {
		_, err := Parse(tt.name, []byte(tt.src))
		switch {
		case tt.ok && err != nil:
			t.Errorf("Parse(%q): %v", tt.name, err)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), `"a/b"`) && !strings.Contains(err.Error(), "invalid JSON")):
			t.Errorf("Parse(%q) = %v", tt.name, err)
		}
	}
}

func TestParseFileErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.yaml")
	_, err := ParseFile(missing)
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) ||
		err.Error() != "reading spec "+missing+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
	dir := t.TempDir()
	_, err = ParseFile(dir)
	if err == nil || errors.Is(err, ErrInvalid) || err.Error() != "reading spec "+dir+": is a directory" {
		t.Errorf("directory: %v", err)
	}
}
