package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/client"
	"github.com/voidbox/voidbox/internal/daemon"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/store"
)

// ServeOptions configure the daemon benchmark.
type ServeOptions struct {
	// Exe is the voidbox binary the CLI side runs (`voidbox run`).
	Exe        string
	Iterations int    // runs of each side (default 5)
	Queued     int    // runs of `true` submitted at once (default 100)
	MaxVMs     int    // the daemon's cap during the queue (default 2)
	Store      string // store URL (default SQLite in a temporary directory)
	Progress   io.Writer
}

// ServeResult is what `voidbox bench serve` measures.
type ServeResult struct {
	Store string `json:"store"`
	// CLI and API are the wall times of the same one-stage run of `true`,
	// by `voidbox run` and through the daemon (submit, follow the events to
	// the end, read the report), alternating.
	CLI        Stats   `json:"cli"`
	API        Stats   `json:"api"`
	RatioP50   float64 `json:"ratio_p50"` // API / CLI (target ≤ 1.05)
	EventDelay Stats   `json:"event_delay"`
	// Queue: Queued runs of `true` submitted at once with MaxVMs.
	Queued      int           `json:"queued"`
	MaxVMs      int           `json:"max_vms"`
	QueueWall   time.Duration `json:"queue_wall_ns"`
	QueueErrors int           `json:"queue_errors"`
	RSSBeforekB int64         `json:"rss_before_kb"`
	RSSAfterkB  int64         `json:"rss_after_kb"`
	FDsBefore   int           `json:"fds_before"`
	FDsAfter    int           `json:"fds_after"`
	GoBefore    int           `json:"goroutines_before"`
	GoAfter     int           `json:"goroutines_after"`
	VMsLeft     int           `json:"vms_left"`
}

const trueSpec = "api_version: v1\nkind: pipeline\nname: %s\nsandbox: {memory_mb: 256}\npipeline:\n  boxes:\n    - name: main\n      exec: [%s]\n"

// Serve runs the benchmark against a daemon in this process, on a unix
// socket in a temporary directory.
func Serve(ctx context.Context, o ServeOptions) (*ServeResult, error) {
	if o.Iterations <= 0 {
		o.Iterations = 5
	}
	if o.Queued <= 0 {
		o.Queued = 100
	}
	if o.MaxVMs <= 0 {
		o.MaxVMs = 2
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if _, err := voidbox.Setup(ctx, voidbox.SetupOptions{Progress: o.Progress}); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "voidbox-bench-serve-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if o.Store == "" {
		o.Store = "sqlite:" + filepath.Join(dir, "state.db")
	}
	st, err := store.Open(ctx, o.Store)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	d, err := daemon.New(ctx, daemon.Config{Store: st, MaxVMs: o.MaxVMs, MaxQueued: o.Queued})
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "s", "voidbox.sock")
	srv, err := apiserver.New(ctx, apiserver.Config{Handler: d, Socket: sock})
	if err != nil {
		d.Shutdown(context.Background())
		return nil, err
	}
	serveCtx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx) }()
	defer func() {
		d.Shutdown(context.Background())
		stop()
		<-served
	}()
	c, err := client.New("unix://"+sock, client.Options{})
	if err != nil {
		return nil, err
	}
	r := &ServeResult{Store: strings.SplitN(o.Store, ":", 2)[0], Queued: o.Queued, MaxVMs: o.MaxVMs}
	if err := overhead(ctx, o, c, dir, r); err != nil {
		return nil, err
	}
	fmt.Fprintln(o.Progress, "event delay ...")
	if r.EventDelay, err = eventDelay(ctx, c); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "%d queued runs with %d VMs ...\n", o.Queued, o.MaxVMs)
	if err := queue(ctx, o, c, d, r); err != nil {
		return nil, err
	}
	return r, nil
}

// overhead alternates `voidbox run` and the same run through the API.
func overhead(ctx context.Context, o ServeOptions, c *client.Client, dir string, r *ServeResult) error {
	if o.Exe == "" {
		return errors.New("bench serve: no voidbox binary to compare with")
	}
	file := filepath.Join(dir, "true.yaml")
	text := fmt.Sprintf(trueSpec, "overhead", "\"true\"")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		return err
	}
	var cli, api []time.Duration
	for i := 0; i < o.Iterations; i++ {
		fmt.Fprintf(o.Progress, "overhead %d/%d ...\n", i+1, o.Iterations)
		start := time.Now()
		cmd := exec.CommandContext(ctx, o.Exe, "run", "--file", file, "--progress", "none", "--output", "json")
		cmd.Env = append(os.Environ(), client.EnvHost+"=") // a local run, whatever the caller's environment says
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("voidbox run: %v: %s", err, out)
		}
		cli = append(cli, time.Since(start))
		start = time.Now()
		if err := apiRun(ctx, c, text); err != nil {
			return err
		}
		api = append(api, time.Since(start))
	}
	r.CLI, r.API = Summarize(cli), Summarize(api)
	r.RatioP50 = float64(r.API.P50) / float64(r.CLI.P50)
	return nil
}

// apiRun is what `voidbox run --remote` does: submit, follow, read the run.
func apiRun(ctx context.Context, c *client.Client, text string) error {
	run, err := c.CreateRun(ctx, apiv1.CreateRun{Spec: text}, "")
	if err != nil {
		return err
	}
	if err := c.Follow(ctx, run.ID, 0, func(uint64, event.Event) error { return nil }); err != nil {
		return err
	}
	got, err := c.GetRun(ctx, run.ID)
	if err != nil {
		return err
	}
	if got.Status != "succeeded" {
		return fmt.Errorf("run %s %s: %s", got.ID, got.Status, got.Error)
	}
	return nil
}

// eventDelay is, for each line a command prints, the time from the
// engine's event (the chunk reaching the host) to an SSE client.
func eventDelay(ctx context.Context, c *client.Client) (Stats, error) {
	text := fmt.Sprintf(trueSpec, "delay", `sh, -c, "i=0; while [ $i -lt 100 ]; do echo $i; sleep 0.05; i=$((i+1)); done"`)
	run, err := c.CreateRun(ctx, apiv1.CreateRun{Spec: text}, "")
	if err != nil {
		return Stats{}, err
	}
	var ds []time.Duration
	err = c.Follow(ctx, run.ID, 0, func(_ uint64, e event.Event) error {
		if e.Type() == event.TypeExecOutput {
			ds = append(ds, time.Since(e.Time))
		}
		return nil
	})
	return Summarize(ds), err
}

// queue submits o.Queued runs at once and waits for all of them.
func queue(ctx context.Context, o ServeOptions, c *client.Client, d *daemon.Daemon, r *ServeResult) error {
	runtime.GC()
	r.RSSBeforekB, r.FDsBefore, r.GoBefore = selfRSS(), selfFDs(), runtime.NumGoroutine()
	start := time.Now()
	ids := make([]string, 0, o.Queued)
	for i := 0; i < o.Queued; i++ {
		run, err := c.CreateRun(ctx, apiv1.CreateRun{Spec: fmt.Sprintf(trueSpec, fmt.Sprintf("q%d", i), "\"true\"")}, "")
		if err != nil {
			return fmt.Errorf("submitting run %d: %w", i, err)
		}
		ids = append(ids, run.ID)
	}
	for _, id := range ids {
		if err := c.Follow(ctx, id, 0, func(uint64, event.Event) error { return nil }); err != nil {
			return err
		}
		got, err := c.GetRun(ctx, id)
		if err != nil || got.Status != "succeeded" {
			r.QueueErrors++
		}
	}
	r.QueueWall = time.Since(start)
	time.Sleep(time.Second) // idle connections and finished goroutines wind down
	runtime.GC()
	r.RSSAfterkB, r.FDsAfter, r.GoAfter, r.VMsLeft = selfRSS(), selfFDs(), runtime.NumGoroutine(), d.VMs()
	return nil
}

func selfRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func selfFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}
