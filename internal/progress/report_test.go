package progress_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/progress"
)

func TestWriteReportGolden(t *testing.T) {
	rep := &pipeline.Report{
		Name: "review", Status: pipeline.StatusFailed, Duration: 75300 * time.Millisecond,
		Stages: []pipeline.StageReport{
			{Name: "fetch", Status: pipeline.StatusSucceeded, Attempts: 2, Duration: 12340 * time.Millisecond, ExitCode: new(0), OutputBytes: 3 << 20},
			{Name: "lint", Status: pipeline.StatusFailed, Attempts: 1, Duration: 480 * time.Millisecond, ExitCode: new(2),
				Error: "exit code 2\nsecond line \x1b[2J"},
			{Name: "test", Status: pipeline.StatusSkipped, Reason: `stage "lint" failed`},
			{Name: "boot", Status: pipeline.StatusCancelled, Attempts: 1, Duration: 900 * time.Millisecond, Reason: "run cancelled"},
			{Name: "ship", Status: pipeline.StatusCancelled, Reason: "run cancelled before the stage started"},
		},
	}
	var b strings.Builder
	if err := progress.WriteReport(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `STAGE  STATUS     ATTEMPTS  DURATION  EXIT  OUTPUT   NOTE
fetch  succeeded  2         12.3s     0     3.0 MiB  
lint   failed     1         480ms     2     -        exit code 2 …
test   skipped    0         -         -     -        stage "lint" failed
boot   cancelled  1         900ms     -     -        run cancelled
ship   cancelled  0         -         -     -        run cancelled before the stage started
run review failed in 1m15.3s
`
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestReportCancelledWhileBooting: a stage cancelled while its VM was
// starting ran no command; its EXIT column is "-", not 0.
func TestReportCancelledWhileBooting(t *testing.T) {
	g, err := pipeline.NewPipeline("boot").Pipe(pipeline.Node{ID: "a"}).Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runner := pipeline.RunnerFunc(func(ctx context.Context, _ *pipeline.Node, _ int, _ []byte, _ func(event.Data)) (pipeline.Output, error) {
		cancel() // Ctrl-C while the VM boots
		<-ctx.Done()
		return pipeline.Output{}, fmt.Errorf("starting VM: %w", ctx.Err())
	})
	rep, _ := pipeline.Run(ctx, g, runner, pipeline.Options{})
	var b strings.Builder
	if err := progress.WriteReport(&b, rep); err != nil {
		t.Fatal(err)
	}
	row := strings.Fields(strings.Split(b.String(), "\n")[1])
	if len(row) < 6 || row[0] != "a" || row[1] != "cancelled" || row[4] != "-" {
		t.Errorf("report row %q, want stage a cancelled with EXIT -\n%s", row, b.String())
	}
}
