package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to Parse as YAML and as JSON. Parse must
// not panic, must return a spec or positioned problems (never both), and
// must stay fast whatever the input. The seed corpus is testdata/fuzz plus
// every fixture and example.
func FuzzParse(f *testing.F) {
	for _, pat := range []string{"testdata/valid/*.yaml", "testdata/valid/*.json", "../../examples/*.yaml"} {
		files, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"fuzz.yaml", "fuzz.json"} {
			start := time.Now()
			s, err := Parse(name, data)
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("%s: Parse took %v", name, elapsed)
			}
			checkResult(t, name, s, err)
		}
	})
}

// checkResult checks the invariants of one Parse result.
func checkResult(t *testing.T, name string, s *Spec, err error) {
	t.Helper()
	if err == nil {
		if s == nil {
			t.Fatalf("%s: nil spec and nil error", name)
		}
		switch s.Kind {
		case KindAgent:
			if s.Agent == nil || (s.Agent.Prompt == "") == (len(s.Agent.Exec) == 0) {
				t.Fatalf("%s: bad agent %+v", name, s.Agent)
			}
		case KindPipeline:
			if s.Pipeline == nil || len(s.Pipeline.Boxes) == 0 || len(s.Pipeline.Stages) == 0 {
				t.Fatalf("%s: bad pipeline %+v", name, s.Pipeline)
			}
		case KindWorkflow:
			if s.Workflow == nil || len(s.Workflow.Steps) == 0 || s.Workflow.OutputStep == nil {
				t.Fatalf("%s: bad workflow %+v", name, s.Workflow)
			}
		case KindSandbox:
		default:
			t.Fatalf("%s: kind %q accepted", name, s.Kind)
		}
		return
	}
	if s != nil {
		t.Fatalf("%s: spec returned with an error", name)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("%s: error does not match ErrInvalid: %v", name, err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("%s: error is not a join: %T", name, err)
	}
	list := joined.Unwrap()
	if len(list) == 0 || len(list) > maxProblems+1 {
		t.Fatalf("%s: %d problems", name, len(list))
	}
	for _, e := range list {
		var pe *Error
		if !errors.As(e, &pe) || pe.File != name {
			t.Fatalf("%s: problem is not an *Error for the file: %#v", name, e)
		}
		if strings.ContainsAny(pe.Error(), "\n\r") {
			t.Fatalf("%s: problem spans lines: %q", name, pe.Error())
		}
	}
}
