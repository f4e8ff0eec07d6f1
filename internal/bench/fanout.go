package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/voidbox/voidbox"
)

// FanOutOptions configure the fan-out benchmark.
type FanOutOptions struct {
	N           int // branches (default 4)
	MaxParallel int // 0: no cap
	Iterations  int // runs of each shape (default 3)
	Progress    io.Writer
}

// FanOutResult compares a fan-out of N command stages with one stage.
type FanOutResult struct {
	N           int     `json:"n"`
	MaxParallel int     `json:"max_parallel"`
	Cores       int     `json:"cores"`
	Single      Stats   `json:"single"` // one-stage pipeline
	FanOut      Stats   `json:"fan_out"`
	Budget      float64 `json:"budget"`       // ceil(N/cores) × single.p50 × 1.2, in ns
	BudgetRatio float64 `json:"budget_ratio"` // fan_out.p50 / budget (target ≤ 1)
}

// FanOut runs the benchmark; single and fan-out runs alternate.
func FanOut(ctx context.Context, o FanOutOptions) (*FanOutResult, error) {
	if o.N <= 0 {
		o.N = 4
	}
	if o.Iterations <= 0 {
		o.Iterations = 3
	}
	setup, err := voidbox.Setup(ctx, voidbox.SetupOptions{Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	host := voidbox.HostOptions{Image: setup.Image, QEMU: setup.QEMU}
	box := func(name string) *voidbox.Box { return voidbox.NewBox(name).Exec("true").Memory(256) }
	var single, fan []time.Duration
	for i := 0; i < o.Iterations; i++ {
		d, err := timeRun(ctx, voidbox.NewPipeline("single").Pipe(box("one")), host)
		if err != nil {
			return nil, err
		}
		single = append(single, d)
		var branches []*voidbox.Box
		for j := 0; j < o.N; j++ {
			branches = append(branches, box(fmt.Sprintf("b%d", j)))
		}
		d, err = timeRun(ctx, voidbox.NewPipeline("fan").FanOut(branches...).MaxParallel(o.MaxParallel), host)
		if err != nil {
			return nil, err
		}
		fan = append(fan, d)
		progressf(o.Progress, "run %d/%d: single %v, fan-out of %d %v", i+1, o.Iterations, round(single[i]), o.N, round(d))
	}
	r := &FanOutResult{N: o.N, MaxParallel: o.MaxParallel, Cores: runtime.NumCPU(), Single: Summarize(single), FanOut: Summarize(fan)}
	width := r.Cores
	if o.MaxParallel > 0 && o.MaxParallel < width {
		width = o.MaxParallel
	}
	waves := (o.N + width - 1) / width
	r.Budget = float64(waves) * float64(r.Single.P50) * 1.2
	r.BudgetRatio = float64(r.FanOut.P50) / r.Budget
	return r, nil
}

func timeRun(ctx context.Context, p *voidbox.Pipeline, host voidbox.HostOptions) (time.Duration, error) {
	start := time.Now()
	rep, err := p.Run(ctx, voidbox.RunOptions{Host: host})
	if err != nil {
		return 0, err
	}
	if rep.Status != voidbox.StatusSucceeded {
		return 0, fmt.Errorf("run %s", rep.Status)
	}
	return time.Since(start), nil
}
