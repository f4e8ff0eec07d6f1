package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/voidbox/voidbox"
)

// WarmFanOutOptions configure the warm fan-out benchmark.
type WarmFanOutOptions struct {
	N          int // branches of the fan-out (default 5)
	Stages     int // length of the sequential pipeline (default 10)
	Pool       int // parked VMs per configuration (default N)
	Iterations int // runs of each shape (default 3)
	Progress   io.Writer
}

// WarmFanOutResult compares cold and warm starts of a fan-out of N `true`
// stages and of a pipeline of Stages `true` stages.
type WarmFanOutResult struct {
	N      int `json:"n"`
	Stages int `json:"stages"`
	Pool   int `json:"pool"`
	// FanOutCold boots every VM (HostOptions.NoWarm). FanOutWarm restores
	// them from a template kept across runs (WarmStarts, no pool), taken
	// in an untimed first run; FanOutPool resumes parked VMs of a pool of
	// Pool, refilled between runs as a daemon's is between requests.
	FanOutCold Stats `json:"fan_out_cold"`
	FanOutWarm Stats `json:"fan_out_warm"`
	FanOutPool Stats `json:"fan_out_pool"`
	// PipeCold boots every stage; PipeWarm is a plain run's warm starts
	// (its own template, taken by its first stage: what `voidbox run`
	// does by default); PipePool adds a run's own pool of one (run --warm 1).
	PipeCold Stats `json:"pipeline_cold"`
	PipeWarm Stats `json:"pipeline_warm"`
	PipePool Stats `json:"pipeline_pool"`
	// Ratios of p50s, warm / cold.
	FanOutWarmRatio float64 `json:"fan_out_warm_ratio"`
	FanOutPoolRatio float64 `json:"fan_out_pool_ratio"` // target ≤ 0.35
	PipeWarmRatio   float64 `json:"pipeline_warm_ratio"`
	PipePoolRatio   float64 `json:"pipeline_pool_ratio"` // target well under 0.5
}

// WarmFanOut runs the benchmark; the shapes alternate within an iteration.
func WarmFanOut(ctx context.Context, o WarmFanOutOptions) (*WarmFanOutResult, error) {
	if o.N <= 0 {
		o.N = 5
	}
	if o.Stages <= 0 {
		o.Stages = 10
	}
	if o.Pool <= 0 {
		o.Pool = o.N
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
	fan := voidbox.NewPipeline("fan")
	var branches []*voidbox.Box
	for j := range o.N {
		branches = append(branches, box(fmt.Sprintf("b%d", j)))
	}
	fan.FanOut(branches...)
	pipe := voidbox.NewPipeline("seq")
	for j := range o.Stages {
		pipe.Pipe(box(fmt.Sprintf("s%d", j)))
	}

	shared, err := voidbox.NewWarmStarts(voidbox.WarmOptions{})
	if err != nil {
		return nil, err
	}
	defer shared.Close()
	pooled, err := voidbox.NewWarmStarts(voidbox.WarmOptions{Pool: o.Pool})
	if err != nil {
		return nil, err
	}
	defer pooled.Close()
	cold, warm, pool := host, host, host
	cold.NoWarm = true
	warm.Warm = shared
	pool.Warm = pooled
	// The templates are taken once, untimed, as bench boot's snapshot is.
	for _, h := range []voidbox.HostOptions{warm, pool} {
		if _, err := timeRun(ctx, fan, h); err != nil {
			return nil, err
		}
	}
	r := &WarmFanOutResult{N: o.N, Stages: o.Stages, Pool: o.Pool}
	var fc, fw, fp, pc, pw, pp []time.Duration
	for i := range o.Iterations {
		if err := waitParked(ctx, pooled, o.Pool); err != nil {
			return nil, err
		}
		for _, run := range []struct {
			p    *voidbox.Pipeline
			h    voidbox.HostOptions
			into *[]time.Duration
		}{{fan, cold, &fc}, {fan, warm, &fw}, {fan, pool, &fp}} {
			d, err := timeRun(ctx, run.p, run.h)
			if err != nil {
				return nil, err
			}
			*run.into = append(*run.into, d)
		}
		ownPool := host
		ownPool.WarmPool = 1
		for _, run := range []struct {
			h    voidbox.HostOptions
			into *[]time.Duration
		}{{cold, &pc}, {host, &pw}, {ownPool, &pp}} {
			d, err := timeRun(ctx, pipe, run.h)
			if err != nil {
				return nil, err
			}
			*run.into = append(*run.into, d)
		}
		progressf(o.Progress, "run %d/%d: fan-out of %d cold %v, warm %v, pool %v; %d stages cold %v, warm %v, pool %v",
			i+1, o.Iterations, o.N, round(fc[i]), round(fw[i]), round(fp[i]), o.Stages, round(pc[i]), round(pw[i]), round(pp[i]))
	}
	r.FanOutCold, r.FanOutWarm, r.FanOutPool = Summarize(fc), Summarize(fw), Summarize(fp)
	r.PipeCold, r.PipeWarm, r.PipePool = Summarize(pc), Summarize(pw), Summarize(pp)
	ratio := func(a, b Stats) float64 { return float64(a.P50) / float64(b.P50) }
	r.FanOutWarmRatio, r.FanOutPoolRatio = ratio(r.FanOutWarm, r.FanOutCold), ratio(r.FanOutPool, r.FanOutCold)
	r.PipeWarmRatio, r.PipePoolRatio = ratio(r.PipeWarm, r.PipeCold), ratio(r.PipePool, r.PipeCold)
	return r, nil
}

// waitParked waits (at most two minutes) until the pool holds n parked VMs.
func waitParked(ctx context.Context, w *voidbox.WarmStarts, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for w.Parked() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("warm pool: %d of %d VMs parked after two minutes", w.Parked(), n)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
