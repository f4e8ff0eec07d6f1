package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/admission"
	"github.com/voidbox/voidbox/internal/bytesize"
)

// LoadOptions configure the load benchmark.
type LoadOptions struct {
	N         int      // voidbox exec processes started at once
	MemoryMiB int      // guest memory of each (default 256)
	Command   []string // what each runs (default sh -c 'echo ok')
	// BootSlots and MemoryBudget are passed to every process as
	// --boot-slots and --memory-budget when set.
	BootSlots    int
	MemoryBudget string
	Progress     io.Writer
}

// LoadResult is one run of N execs at once.
type LoadResult struct {
	N         int   `json:"n"`
	MemoryMiB int   `json:"memory_mib"`
	BootSlots int   `json:"boot_slots"`
	BudgetMiB int64 `json:"memory_budget_mib"`
	Succeeded int   `json:"succeeded"`
	Failed    int   `json:"failed"`
	// Failures are the first lines of failed processes' errors, by count.
	Failures map[string]int `json:"failures,omitempty"`
	Single   time.Duration  `json:"single_ns"` // one cold exec alone, same run
	Wall     time.Duration  `json:"wall_ns"`   // all N, from the first start to the last exit
	Ideal    time.Duration  `json:"ideal_ns"`  // N × single ÷ boot slots
	Ratio    float64        `json:"ratio"`     // wall / ideal (target ≤ 1.5)
	Queue    Stats          `json:"queue"`     // waiting for a VM slot, per exec
	Boot     Stats          `json:"boot"`      // admission to the guest's answer, per exec
	// The host during the run: lowest MemAvailable, pages swapped out and
	// OOM kills (from /proc/vmstat) — the targets are none.
	MinAvailableMiB int64 `json:"min_available_mib"`
	SwappedPages    int64 `json:"swapped_out_pages"`
	OOMKills        int64 `json:"oom_kills"`
	// Left is what remained after every process exited: QEMU processes,
	// runtime dirs, sockets, admission files (target: none).
	Left []string `json:"left,omitempty"`
}

// execReport is the part of `voidbox exec --json` the benchmark reads.
type execReport struct {
	ExitCode int     `json:"exit_code"`
	QueueMS  float64 `json:"queue_ms"`
	BootMS   float64 `json:"boot_ms"`
}

// Load starts o.N `voidbox exec` processes (this executable) at once, after
// one alone for the baseline, and reports how they fared.
func Load(ctx context.Context, o LoadOptions) (*LoadResult, error) {
	if o.N <= 0 {
		return nil, fmt.Errorf("%w: N must be positive", voidbox.ErrInvalid)
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = 256
	}
	if len(o.Command) == 0 {
		o.Command = []string{"sh", "-c", "echo ok"}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if _, err := voidbox.Setup(ctx, voidbox.SetupOptions{Progress: o.Progress}); err != nil {
		return nil, err
	}
	r := &LoadResult{N: o.N, MemoryMiB: o.MemoryMiB, Failures: map[string]int{}}
	if r.BootSlots, r.BudgetMiB, err = budget(o); err != nil {
		return nil, err
	}
	// A short runtime dir of its own: what is left in it afterwards is the
	// benchmark's doing (and QEMU's socket paths stay under 108 bytes).
	rt, err := os.MkdirTemp("", "vbl")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(rt)
	args := []string{"exec", "--json", "--memory", strconv.Itoa(o.MemoryMiB) + "M"}
	if o.BootSlots > 0 {
		args = append(args, "--boot-slots", strconv.Itoa(o.BootSlots))
	}
	if o.MemoryBudget != "" {
		args = append(args, "--memory-budget", o.MemoryBudget)
	}
	args = append(append(args, "--"), o.Command...)

	line(o.Progress, "one exec alone (the baseline)")
	start := time.Now()
	if one := runExec(ctx, exe, rt, args); one.err != nil {
		return nil, fmt.Errorf("the baseline exec: %v", one.err)
	}
	r.Single = time.Since(start)
	r.Ideal = time.Duration(float64(r.Single) * float64(o.N) / float64(r.BootSlots))

	line(o.Progress, "%d execs at once (%d MiB each, %d boot slots, %s memory budget)", o.N, o.MemoryMiB, r.BootSlots, gib(r.BudgetMiB))
	host := watchHost()
	results := make([]execResult, o.N)
	var wg sync.WaitGroup
	start = time.Now()
	for i := range o.N {
		wg.Go(func() { results[i] = runExec(ctx, exe, rt, args) })
	}
	wg.Wait()
	r.Wall = time.Since(start)
	r.MinAvailableMiB, r.SwappedPages, r.OOMKills = host.stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	r.Ratio = float64(r.Wall) / float64(r.Ideal)
	var queue, boot []time.Duration
	for _, x := range results {
		if x.err != nil {
			r.Failed++
			r.Failures[x.err.Error()]++
			continue
		}
		r.Succeeded++
		queue = append(queue, time.Duration(x.rep.QueueMS*float64(time.Millisecond)))
		boot = append(boot, time.Duration(x.rep.BootMS*float64(time.Millisecond)))
	}
	r.Queue, r.Boot = Summarize(queue), Summarize(boot)
	r.Left = leftovers(rt)
	return r, nil
}

type execResult struct {
	rep execReport
	err error
}

// runExec runs one `voidbox exec --json` in runtime dir rt.
func runExec(ctx context.Context, exe, rt string, args []string) execResult {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var rep execReport
	if jerr := json.Unmarshal(out.Bytes(), &rep); err == nil && jerr != nil {
		err = fmt.Errorf("reading its report: %v", jerr)
	}
	if err == nil && rep.ExitCode != 0 {
		err = fmt.Errorf("the command exited %d", rep.ExitCode)
	}
	if err != nil {
		// The last "voidbox:" line says why; queue notices come first.
		why := err.Error()
		for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
			if strings.HasPrefix(l, "voidbox: ") && !strings.Contains(l, "waiting for a VM slot") {
				why = strings.TrimPrefix(l, "voidbox: ")
			}
		}
		return execResult{err: fmt.Errorf("%s", why)}
	}
	return execResult{rep: rep}
}

// budget resolves the boot slots and memory budget the processes will use.
func budget(o LoadOptions) (int, int64, error) {
	h, err := admission.ReadHost()
	if err != nil {
		return 0, 0, err
	}
	var mem int64
	if o.MemoryBudget != "" {
		b, err := bytesize.Parse(o.MemoryBudget)
		if err != nil {
			return 0, 0, err
		}
		mem = b >> 20
	}
	b, err := admission.Resolve(admission.Options{BootSlots: o.BootSlots, MemoryMiB: mem}, h, os.Getenv)
	if err != nil {
		return 0, 0, err
	}
	return b.BootSlots, b.MemoryMiB, nil
}

// hostWatch samples the host's memory while the benchmark runs.
type hostWatch struct {
	stopc       chan struct{}
	wg          sync.WaitGroup
	minAvail    int64 // written by the sampling goroutine until stop
	swap0, oom0 int64
}

func watchHost() *hostWatch {
	w := &hostWatch{stopc: make(chan struct{}), minAvail: 1 << 62}
	w.swap0, w.oom0 = vmstat()
	w.wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if a, err := memAvailable(); err == nil {
				w.minAvail = min(w.minAvail, a)
			}
			select {
			case <-w.stopc:
				return
			case <-t.C:
			}
		}
	})
	return w
}

func (w *hostWatch) stop() (minAvailMiB, swapped, oomKills int64) {
	close(w.stopc)
	w.wg.Wait()
	swap, oom := vmstat()
	return w.minAvail, swap - w.swap0, oom - w.oom0
}

// vmstat returns /proc/vmstat's pswpout and oom_kill.
func vmstat() (swapOut, oomKills int64) {
	f, err := os.Open("/proc/vmstat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "pswpout":
			swapOut = n
		case "oom_kill":
			oomKills = n
		}
	}
	return swapOut, oomKills
}

func memAvailable() (int64, error) {
	h, err := admission.ReadHost()
	return h.MemAvailableMiB, err
}

// leftovers lists what the processes left in rt, and QEMU processes that use it.
func leftovers(rt string) []string {
	var left []string
	dirs, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*"))
	left = append(left, dirs...)
	_ = filepath.WalkDir(rt, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeSocket != 0 {
			left = append(left, p)
		}
		return nil
	})
	adm, _ := os.ReadDir(filepath.Join(rt, "voidbox", "admission"))
	for _, e := range adm {
		if e.Name() != "lock" {
			left = append(left, filepath.Join(rt, "voidbox", "admission", e.Name()))
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte("qemu-system")) && bytes.Contains(b, []byte(rt)) {
			left = append(left, "qemu pid "+filepath.Base(filepath.Dir(p)))
		}
	}
	return left
}

func line(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

func gib(mib int64) string { return fmt.Sprintf("%.1f GiB", float64(mib)/1024) }
