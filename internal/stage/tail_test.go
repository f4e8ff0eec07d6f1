package stage

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/sandbox/sandboxtest"
)

func TestTailWriter(t *testing.T) {
	w := &tailWriter{}
	for i := range 30 {
		fmt.Fprintf(w, "line %d\x1b[31m\n\n", i)
	}
	got := w.lines()
	if len(got) != tailLines || got[0] != "line 20[31m" || w.last() != "line 29[31m" {
		t.Errorf("lines %q", got)
	}
	w.Write([]byte(strings.Repeat("x", 3*tailBytes)))
	if len(w.buf) != tailBytes {
		t.Errorf("kept %d bytes, want at most %d", len(w.buf), tailBytes)
	}
}

// TestFailedStageSaysWhy: a command stage that fails carries the end of its
// stderr in its error (the report's note, the progress line), the report
// and the stage.failed event — not only "exit code 1".
func TestFailedStageSaysWhy(t *testing.T) {
	g := sandboxtest.New()
	g.Handle("build", func(ctx context.Context, p *sandboxtest.Process) int {
		io.WriteString(p.Stderr, "compiling\nmain.c:3: error: expected ';'\n")
		return 1
	})
	box := &Box{Name: "build", Exec: []string{"build"}}
	b := pipeline.NewPipeline("t")
	b.Pipe(box.Node())
	gr, _ := b.Build()
	rec := &events{}
	rep, err := Run(context.Background(), gr, map[string]Staged{"build": {Box: box}}, Host{}, Options{Events: rec, Boot: BootFunc(g.Boot)})
	if err == nil {
		t.Fatal("run succeeded")
	}
	st := rep.Stages[0]
	if st.Error != "exit code 1: main.c:3: error: expected ';'" ||
		!slices.Equal(st.StderrTail, []string{"compiling", "main.c:3: error: expected ';'"}) {
		t.Errorf("stage %q tail %q", st.Error, st.StderrTail)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.all {
		if f, ok := e.Data.(event.StageFailed); ok {
			if len(f.StderrTail) != 2 {
				t.Errorf("stage.failed tail %q", f.StderrTail)
			}
			return
		}
	}
	t.Error("no stage.failed event")
}
