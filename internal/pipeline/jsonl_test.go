package pipeline_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/pipeline"
)

func TestJSONLSinkConcurrentEmitters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sink := pipeline.NewJSONLSink(f)
	const emitters, each = 8, 200
	var wg sync.WaitGroup
	for w := range emitters {
		wg.Go(func() {
			for i := range each {
				ev := pipeline.ExecOutput("stdout", []byte(fmt.Sprintf("line %d from %d\n", i, w)))
				ev.Time, ev.Run, ev.Stage, ev.Attempt = time.Now(), "r", fmt.Sprint("s", w), 1
				sink.Emit(ev)
			}
		})
	}
	wg.Wait()
	if err := sink.Err(); err != nil {
		t.Fatalf("sink: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	got := readEvents(t, path)
	if len(got) != emitters*each {
		t.Fatalf("read %d events, want %d", len(got), emitters*each)
	}
	perStage := map[string]int{}
	for _, ev := range got {
		if ev.Type != pipeline.EventExecOutput || ev.Fields["stream"] != "stdout" {
			t.Fatalf("event = %+v", ev)
		}
		perStage[ev.Stage]++
	}
	for w := range emitters {
		if n := perStage[fmt.Sprint("s", w)]; n != each {
			t.Errorf("stage s%d has %d events, want %d", w, n, each)
		}
	}
}

func TestJSONLSinkOfARun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sink := pipeline.NewJSONLSink(f)
	g := mustPipeline(t, pipeline.NewPipeline("j").Pipe(node("a")).FanOut(node("b"), node("c")))
	if _, err := pipeline.Run(context.Background(), g, newRunner(nil), pipeline.Options{Sink: sink}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	events := readEvents(t, path)
	if first, last := events[0], events[len(events)-1]; first.Type != "run.started" || last.Type != "run.finished" ||
		last.Fields["status"] != "succeeded" || first.Run != "j" {
		t.Errorf("first %+v, last %+v", first, last)
	}
	if len(events) != 2+3*3 { // run start/finish, queued/started/succeeded per stage
		t.Errorf("%d events, want 11", len(events))
	}
}

func readEvents(t *testing.T, path string) []pipeline.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []pipeline.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev pipeline.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v: %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestJSONLSinkKeepsFirstError(t *testing.T) {
	sink := pipeline.NewJSONLSink(failingWriter{})
	sink.Emit(pipeline.Event{Type: "a"})
	sink.Emit(pipeline.Event{Type: "b", Fields: map[string]any{"bad": func() {}}})
	if err := sink.Err(); err == nil || err.Error() != "writing events: disk full" {
		t.Errorf("err = %v", err)
	}
}
