package progress

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/voidbox/voidbox/internal/pipeline"
)

// WriteReport prints rep as a table (a stage's Detail shows in the NOTE
// column when it has a Summary method and the stage has no error), one row per stage in declaration order,
// then a summary line.
func WriteReport(w io.Writer, rep *pipeline.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTATUS\tATTEMPTS\tDURATION\tEXIT\tOUTPUT\tNOTE")
	for _, s := range rep.Stages {
		dur, exit, out := "-", "-", "-"
		if s.Attempts > 0 {
			dur = formatDuration(s.Duration)
		}
		if s.ExitCode != nil {
			exit = fmt.Sprint(*s.ExitCode)
		}
		if s.Status == pipeline.StatusSucceeded {
			out = formatBytes(int64(s.OutputBytes))
		}
		note := s.Error
		if note == "" {
			note = s.Reason
		}
		if sum, ok := s.Detail.(interface{ Summary() string }); ok && note == "" {
			note = sum.Summary()
		}
		if sv := s.Service; sv != nil && s.Error == "" && sv.ExitReason != "" {
			svc := fmt.Sprintf("service: ready in %s, up %s, %s", formatDuration(time.Duration(sv.ReadyMS)*time.Millisecond),
				formatDuration(time.Duration(sv.UptimeMS)*time.Millisecond), sv.ExitReason)
			if note != "" {
				svc += "; " + note
			}
			note = svc
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
			clean(s.Name), s.Status, s.Attempts, dur, exit, out, truncate(firstLine(note), 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "run %s %s in %s\n", clean(rep.Name), rep.Status, formatDuration(rep.Duration))
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return clean(s)
}

// formatDuration rounds for people: milliseconds under a second, tenths of
// a second above.
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// formatBytes prints a size with a binary unit: 512 B, 1.5 KiB, 3.0 MiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
