package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/daemon"
	"github.com/voidbox/voidbox/internal/spec"
	"github.com/voidbox/voidbox/internal/store"
	"github.com/voidbox/voidbox/internal/telemetry"
)

type serveFlags struct {
	listen                  []string
	token, tokenFile        string
	certFile, keyFile       string
	allowPlaintext, noWarm  bool
	warmPool                int
	storeURL                string
	maxVMs, maxQueued       int
	drain                   bool
	drainTimeout            time.Duration
	sandboxIdle, maxIdle    time.Duration
	allowURLs, allowKeyEnvs []string
	accel                   string
	logLevel                string
}

func newServeCmd(e *env) *cobra.Command {
	var f serveFlags
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the voidbox daemon: the /v1 API for runs, their events and sandboxes",
		Long: `Serve the voidbox API (HTTP/1.1 and HTTP/2) on a private unix socket, and on TCP when asked
(every TCP request needs the bearer token). Runs and their events persist in the store; after a
crash, runs that were in flight are failed with "daemon restarted". SIGTERM or Ctrl-C stops taking
runs, cancels them (or with --drain lets them finish), closes every sandbox and exits once no VM
is left. The API is described by GET /v1/openapi.yaml.`,
		Example: `  voidbox serve
  voidbox serve --store fs:/var/lib/voidbox --max-vms 4
  voidbox serve --listen tcp://127.0.0.1:7070 --token-file ~/.config/voidbox/daemon-token
  curl --unix-socket $XDG_RUNTIME_DIR/voidbox/voidbox.sock http://voidbox/v1/health`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), e, f) },
	}
	fl := c.Flags()
	fl.StringArrayVar(&f.listen, "listen", nil, "unix:///PATH or tcp://HOST:PORT, repeatable (default: the user's unix socket)")
	fl.StringVar(&f.token, "token", "", "bearer token of the TCP listener (else --token-file)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the TCP token, created 0600 if missing (default $XDG_CONFIG_HOME/voidbox/daemon-token)")
	fl.StringVar(&f.certFile, "tls-cert", "", "TLS certificate of the TCP listener")
	fl.StringVar(&f.keyFile, "tls-key", "", "TLS key of the TCP listener")
	fl.BoolVar(&f.allowPlaintext, "allow-plaintext", false, "serve TCP without TLS on a non-loopback address")
	fl.StringVar(&f.storeURL, "store", "", "sqlite:PATH, fs:DIR or valkey://HOST:PORT/DB (default sqlite:$XDG_STATE_HOME/voidbox/daemon.db)")
	fl.IntVar(&f.maxVMs, "max-vms", 0, "VMs running at once, runs' and sandboxes' (default: the core count)")
	fl.IntVar(&f.maxQueued, "max-queued", daemon.DefaultMaxQueued, "runs waiting for a VM; past it submissions get 429")
	fl.BoolVar(&f.drain, "drain", false, "on SIGTERM let accepted runs finish instead of cancelling them")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", daemon.DefaultDrainTimeout, "how long --drain waits before cancelling")
	fl.DurationVar(&f.sandboxIdle, "sandbox-idle", daemon.DefaultSandboxIdle, "close a sandbox after this long without a request")
	fl.DurationVar(&f.maxIdle, "max-sandbox-idle", daemon.DefaultMaxSandboxIdle, "the longest idle timeout a client may ask for")
	fl.StringArrayVar(&f.allowURLs, "allow-url", nil, "an origin (scheme://host:port) specs may name as llm.base_url or observe.otlp_endpoint, repeatable")
	fl.StringArrayVar(&f.allowKeyEnvs, "allow-key-env", nil, "a variable specs may name as llm.api_key_env, repeatable")
	fl.StringVar(&f.accel, "accel", "", "accelerator: kvm, tcg or auto")
	fl.BoolVar(&f.noWarm, "no-warm", false, "boot every stage's VM cold (default: a run's stages of one sandbox configuration start from a template snapshot)")
	fl.IntVar(&f.warmPool, "warm", 0, "keep N VMs of each sandbox configuration of a run restored and parked ahead of its stages (each used once, all stopped with the run)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error (logs go to stderr)")
	return c
}

// stateDir is $XDG_STATE_HOME/voidbox.
func stateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "voidbox"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "voidbox"), nil
}

func serve(ctx context.Context, e *env, f serveFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %w", err)}
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	acfg := apiserver.Config{Token: f.token, TokenFile: f.tokenFile, CertFile: f.certFile, KeyFile: f.keyFile,
		AllowPlaintext: f.allowPlaintext, Logger: log}
	if len(f.listen) == 0 {
		f.listen = []string{"unix://" + apiserver.DefaultSocketPath(os.Getenv)}
	}
	for _, l := range f.listen {
		switch {
		case strings.HasPrefix(l, "unix://") && acfg.Socket == "":
			acfg.Socket = strings.TrimPrefix(l, "unix://")
		case strings.HasPrefix(l, "tcp://") && acfg.TCP == "":
			acfg.TCP = strings.TrimPrefix(l, "tcp://")
		default:
			return usageError{fmt.Errorf("--listen %q: want one unix:///PATH and one tcp://HOST:PORT at most", l)}
		}
	}
	if acfg.TCP != "" && acfg.Token == "" && acfg.TokenFile == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return fmt.Errorf("token file: %w", err)
		}
		acfg.TokenFile = filepath.Join(dir, "voidbox", "daemon-token")
	}
	if f.storeURL == "" {
		dir, err := stateDir()
		if err != nil {
			return fmt.Errorf("default store: %w", err)
		}
		f.storeURL = "sqlite:" + filepath.Join(dir, "daemon.db")
	}
	loc, err := store.ParseURL(f.storeURL)
	if err != nil {
		return usageError{fmt.Errorf("--store: %w", err)}
	}
	host := voidbox.HostOptions{Accel: f.accel, Logger: log, NoWarm: f.noWarm, WarmPool: f.warmPool}
	if err := host.Validate(); err != nil {
		return usageError{err}
	}
	// A daemon prepares its host once, up front, rather than in a request.
	if _, err := voidbox.Setup(ctx, voidbox.SetupOptions{Agent: true, Progress: e.stderr}); err != nil {
		return fmt.Errorf("setting up this host: %w", err)
	}
	st, err := store.Open(ctx, f.storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := daemon.New(ctx, daemon.Config{Store: st, StoreKind: loc.Kind, MaxVMs: f.maxVMs, MaxQueued: f.maxQueued,
		Drain: f.drain, DrainTimeout: f.drainTimeout, SandboxIdle: f.sandboxIdle, MaxSandboxIdle: f.maxIdle, Host: host,
		Remote:    daemon.RemotePolicy{URLs: f.allowURLs, KeyEnvs: f.allowKeyEnvs},
		Telemetry: daemonTelemetry(log), Version: buildVersion(), Logger: log})
	if err != nil {
		return err
	}
	acfg.Handler = d
	srv, err := apiserver.New(ctx, acfg)
	if err != nil {
		d.Shutdown(context.Background())
		return err
	}
	where := []string{}
	if p := srv.SocketPath(); p != "" {
		where = append(where, "unix://"+p)
	}
	if a := srv.TCPAddr(); a != nil {
		where = append(where, "tcp://"+a.String())
	}
	log.Info("voidbox daemon serving", "listen", strings.Join(where, " "), "store", loc.Kind, "max_vms", f.maxVMs)

	// The HTTP server outlives the drain, so clients can follow it: Serve
	// stops only once Shutdown has seen every run and sandbox end.
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served: // a listener failed
	}
	log.Info("shutting down", "drain", f.drain)
	shutErr := d.Shutdown(context.Background())
	stopServe()
	if serveErr == nil {
		serveErr = <-served
	}
	if err := errors.Join(shutErr, serveErr); err != nil {
		return err
	}
	log.Info("stopped: no VM left")
	return nil
}

// daemonTelemetry exports each run as its spec's observe block and the
// daemon's OTEL_EXPORTER_OTLP_* variables say.
func daemonTelemetry(log *slog.Logger) daemon.TelemetryFunc {
	return func(ctx context.Context, s *spec.Spec, id string) (daemon.RunTelemetry, error) {
		cfg, err := telemetry.Resolve(s.Observe, os.Getenv)
		if err != nil {
			return nil, err
		}
		t, err := telemetry.Start(ctx, cfg, telemetry.Options{RunID: id, Logger: log})
		if t == nil || err != nil {
			return nil, err // a nil *Run must not become a non-nil interface
		}
		return t, nil
	}
}

// buildVersion is the module version of this build.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
