package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/bytesize"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/progress"
	"golang.org/x/term"
)

func newExecCmd(e *env) *cobra.Command {
	var sf sandboxFlags
	var asJSON, interactive, tty bool
	var dir, events string
	c := &cobra.Command{
		Use:   "exec [flags] -- COMMAND [ARG...]",
		Short: "Run one command in a fresh micro-VM",
		Long: `Boot a micro-VM, run COMMAND in it as an unprivileged user (uid 1000), stream its
output and exit with its exit code. The VM is stopped and removed afterwards.

Standard input is forwarded when it is a pipe or a file, or with -i. With -t (-it)
the command runs on a terminal in the guest connected to yours, as voidbox shell does.

With --image the guest's root file system is an OCI image's (read-only, with a writable
layer in the --disk budget); an image not in the cache is pulled first (the toolbox,
voidbox.local/toolbox:latest, is built). --mount shares host directories.`,
		Example: `  voidbox exec -- uname -r
  voidbox exec --memory 1G --timeout 30s --env GREETING=hi -- sh -c 'echo $GREETING'
  echo data | voidbox exec -- wc -c
  voidbox exec --net --allow-net example.test --host-map example.test=127.0.0.1 -- wget -qO- https://example.test/
  voidbox exec --net --allow-net pypi.org --allow-net files.pythonhosted.org -p 8080:8000 -- sh -c '...'
  voidbox exec -it -- top
  voidbox exec --image voidbox.local/toolbox:latest -- sh -c 'curl --version && jq --version'
  voidbox exec --mount .:/workspace/src --mount ./out:/workspace/out:rw -- ls /workspace/src`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := sf.config("exec")
			if err != nil {
				return err
			}
			if tty {
				if asJSON {
					return usageError{errors.New("--tty and --json: a terminal's output is not captured")}
				}
				if events != "" {
					return usageError{errors.New("--tty and --events: not supported together yet")}
				}
				return runTerminal(cmd.Context(), e, cfg, args, dir)
			}
			return runExec(cmd.Context(), e, cfg, args, execOptions{dir: dir, events: events, asJSON: asJSON, interactive: interactive})
		},
	}
	sf.register(c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print the result (exit code, output, timings) as JSON instead of streaming")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "forward standard input even when it is a terminal")
	c.Flags().BoolVarP(&tty, "tty", "t", false, "run the command on a guest terminal connected to yours (raw mode; with -i: -it)")
	c.Flags().StringVarP(&dir, "workdir", "w", "", "working directory in the guest (default /workspace)")
	c.Flags().StringVar(&events, "events", "", "write the VM's events (net.allowed, net.denied) to FILE as JSON lines")
	return c
}

type execOptions struct {
	dir, events         string
	asJSON, interactive bool
}

// execReport is the --json output of voidbox exec.
type execReport struct {
	ExitCode      int     `json:"exit_code"`
	Signal        int     `json:"signal,omitempty"`
	TimedOut      bool    `json:"timed_out"`
	OOMKilled     bool    `json:"oom_killed,omitempty"`
	Reason        string  `json:"reason,omitempty"` // why it was killed: "killed: out of memory", "timed out"
	Error         string  `json:"error,omitempty"`
	Stdout        string  `json:"stdout"`
	Stderr        string  `json:"stderr"`
	StdoutDropped int64   `json:"stdout_dropped_bytes,omitempty"`
	StderrDropped int64   `json:"stderr_dropped_bytes,omitempty"`
	DurationMS    float64 `json:"duration_ms"`
	QueueMS       float64 `json:"queue_ms"` // waiting for a host-wide VM slot
	BootMS        float64 `json:"boot_ms"`
	Kernel        string  `json:"kernel"`
	Accel         string  `json:"accel"`
	// Network is set when the VM had one: its counters and refusals.
	Network *execNetwork `json:"network,omitempty"`
}

// execNetwork is the network part of exec's --json report.
type execNetwork struct {
	FlowsAllowed int64 `json:"flows_allowed"`
	FlowsDenied  int64 `json:"flows_denied"`
	DNSAllowed   int64 `json:"dns_allowed"`
	DNSDenied    int64 `json:"dns_denied"`
	BytesIn      int64 `json:"bytes_in"`
	BytesOut     int64 `json:"bytes_out"`
	// Denied are the refusals, in order (the first maxDeniedReported).
	Denied []event.NetFlow `json:"denied,omitempty"`
}

const maxDeniedReported = 100

func runExec(ctx context.Context, e *env, cfg voidbox.Config, args []string, o execOptions) error {
	netLog := &netLog{stderr: e.stderr, quiet: o.asJSON}
	sinks := event.Sinks{netLog}
	if o.events != "" {
		f, err := os.Create(o.events)
		if err != nil {
			return usageError{fmt.Errorf("--events: %w", err)}
		}
		defer f.Close()
		w := event.NewWriter(f)
		sinks = append(sinks, w)
		defer func() {
			if w.Err() != nil {
				fmt.Fprintf(e.stderr, "voidbox: writing events to %s: %v\n", o.events, w.Err())
			}
		}()
	}
	sinks = append(sinks, queueNotice(e))
	cfg.Events = sinks
	sb, err := onDemand(ctx, e, voidbox.SetupOptions{CacheDir: cfg.Host.CacheDir}, func() (*voidbox.Sandbox, error) {
		return voidbox.New(ctx, cfg)
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	for _, fw := range sb.Info().Forwards {
		fmt.Fprintf(e.stderr, "voidbox: forwarding %s to guest port %d\n", fw.Host, fw.GuestPort)
	}

	c := voidbox.Cmd{Args: args, Dir: o.dir}
	if o.interactive || stdinIsData(e.stdin) {
		c.Stdin = e.stdin
	}
	if !o.asJSON {
		c.Stdout, c.Stderr = e.stdout, e.stderr
	}
	res, err := sb.Exec(ctx, c)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{ExitInterrupted, fmt.Errorf("interrupted: command killed, VM stopped")}
		}
		return err
	}
	if o.asJSON {
		info := sb.Info()
		rep := execReport{
			ExitCode: res.ExitCode, Signal: res.Signal, TimedOut: res.TimedOut, Error: res.Error,
			OOMKilled: res.OOMKilled, Reason: res.Reason(),
			Stdout: string(res.Stdout), Stderr: string(res.Stderr),
			StdoutDropped: res.StdoutDropped, StderrDropped: res.StderrDropped,
			DurationMS: ms(res.Duration), QueueMS: ms(info.QueueWait), BootMS: ms(info.BootTime), Kernel: info.Kernel, Accel: info.Accel,
		}
		if cfg.Policy.HasNetwork() {
			sb.Close() // flows end with the VM: the counters are final
			st := sb.NetStats()
			rep.Network = &execNetwork{FlowsAllowed: st.FlowsAllowed, FlowsDenied: st.FlowsDenied,
				DNSAllowed: st.DNSAllowed, DNSDenied: st.DNSDenied, BytesIn: st.BytesIn, BytesOut: st.BytesOut,
				Denied: netLog.deniedFlows()}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		for _, d := range []struct {
			name string
			n    int64
		}{{"stdout", res.StdoutDropped}, {"stderr", res.StderrDropped}} {
			if d.n > 0 {
				fmt.Fprintf(e.stderr, "voidbox: %s truncated: %s over the %s output limit were dropped\n",
					d.name, bytesize.Format(d.n), bytesize.Format(sb.Policy().OutputLimit))
			}
		}
	}
	if res.TimedOut {
		return &exitError{ExitTimedOut, fmt.Errorf("command timed out after %v and was killed", cfg.Policy.Timeout)}
	}
	if res.OOMKilled && res.ExitCode != 0 {
		return &exitError{res.ExitCode, errors.New(res.Reason())}
	}
	if res.ExitCode != 0 {
		return &exitError{code: res.ExitCode}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// stdinIsData reports whether stdin is a pipe or regular file (not a terminal,
// not /dev/null), i.e. whether the user evidently meant to feed the command.
func stdinIsData(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return r != nil
	}
	if term.IsTerminal(int(f.Fd())) {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	if fi.Mode()&os.ModeCharDevice != 0 { // /dev/null and friends
		return false
	}
	return true
}

// netLog tells the user of each network refusal as it happens (the guest's
// program often says only "bad address" or "connection refused"), and
// keeps them for the --json report.
type netLog struct {
	stderr io.Writer
	quiet  bool // --json: the report carries them

	mu     sync.Mutex
	denied []event.NetFlow // guarded by mu
}

func (l *netLog) Emit(e event.Event) {
	d, ok := e.Data.(event.NetDenied)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.denied) < maxDeniedReported {
		l.denied = append(l.denied, d.NetFlow)
	}
	if !l.quiet {
		fmt.Fprintf(l.stderr, "voidbox: network denied %s: %s\n", d.Target(), d.Reason)
	}
}

func (l *netLog) deniedFlows() []event.NetFlow {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.denied)
}

// queueNotice prints one line on stderr when the VM has to wait for a
// host-wide slot, so that a slow start is explained.
func queueNotice(e *env) voidbox.EventSink {
	var once sync.Once
	return voidbox.EventSinkFunc(func(ev voidbox.Event) {
		if q, ok := ev.Data.(voidbox.EventVMQueued); ok {
			once.Do(func() { fmt.Fprintf(e.stderr, "voidbox: %s\n", progress.QueueText(q)) })
		}
	})
}
