package progress_test

import (
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/progress"
)

func TestWriteReportGolden(t *testing.T) {
	rep := &pipeline.Report{
		Name: "review", Status: pipeline.StatusFailed, Duration: 75300 * time.Millisecond,
		Stages: []pipeline.StageReport{
			{Name: "fetch", Status: pipeline.StatusSucceeded, Attempts: 2, Duration: 12340 * time.Millisecond, OutputBytes: 3 << 20},
			{Name: "lint", Status: pipeline.StatusFailed, Attempts: 1, Duration: 480 * time.Millisecond, ExitCode: 2,
				Error: "exit code 2\nsecond line \x1b[2J"},
			{Name: "test", Status: pipeline.StatusSkipped, Reason: `stage "lint" failed`},
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
ship   cancelled  0         -         -     -        run cancelled before the stage started
run review failed in 1m15.3s
`
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
}
