package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/voidbox/voidbox/internal/event"

	"github.com/voidbox/voidbox/internal/pipeline"
)

// BenchmarkFanOut measures the engine's own cost per run: one source, a
// fan-out of 100 branches and a join, with a runner that does nothing.
func BenchmarkFanOut(b *testing.B) {
	for _, width := range []int{10, 100} {
		b.Run(fmt.Sprintf("branches=%d", width), func(b *testing.B) {
			branches := make([]pipeline.Node, width)
			for i := range branches {
				branches[i] = node(fmt.Sprintf("b%d", i))
			}
			g := mustPipeline(b, pipeline.NewPipeline("bench").Pipe(node("src")).FanOut(branches...).Pipe(node("join")))
			noop := pipeline.RunnerFunc(func(context.Context, *pipeline.Node, int, []byte, func(event.Data)) (pipeline.Output, error) {
				return pipeline.Output{Data: []byte(`{"ok":true}`)}, nil
			})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pipeline.Run(ctx, g, noop, pipeline.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(width+2), "ns/stage")
		})
	}
}
