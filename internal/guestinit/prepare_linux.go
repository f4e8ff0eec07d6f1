package guestinit

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

// prepare turns an exec request into what to start, the same for a plain
// command and one on a terminal: the program resolved in the view, the
// limits, the identity, and — for the sandbox user's commands when an
// allowlist is set — the allowlist applied to the program and the exec guard
// to every program the command goes on to run. A refusal comes back as the
// exit to report (refused non-nil); the caller writes its message on its own
// stream.
func (srv *server) prepare(req wire.ExecRequest, env []string, start time.Time) (spec spawnSpec, refused *wire.ExecExit) {
	pol := srv.currentPolicy()
	allowed := pol.AllowedCommands
	if req.System || req.Root {
		allowed = nil // host-started components, not user commands
	}
	dir := req.Dir
	if dir == "" {
		dir = WorkspaceDir
	}
	spec = spawnSpec{Argv: req.Argv, Env: env, Dir: dir, Limits: mergeLimits(pol.Limits, defaultLimits), Root: req.Root, Chroot: srv.view.root}
	guard := srv.spawner.guard
	if guard != nil && !req.Root {
		spec.Guarded = true // the command and all it starts are checked
	}
	var path, msg string
	var code int
	// Resolved in the view (as root, as PID 1 looks): the program found is
	// the one the chrooted command will execute.
	_ = srv.view.as(true, func() error {
		path, code, msg = resolveCommand(req.Argv[0], dir, envPath(env), allowed, pol.TrustedDirs)
		if code == 0 && guard != nil && allowed != nil {
			// The first exec is PID 1's own: the guard's helper lets it
			// through, so the same rule is applied here, and what runs is
			// checked at the exec stop.
			v := guard.rule.check(execCall{pid: os.Getpid(), tid: unix.Gettid(), dirfd: atFDCWD, path: path, argv: req.Argv})
			if v.err != nil {
				code, msg = 126, notAllowed(req.Argv[0], v.err)
			} else {
				spec.Want = &v.want
			}
		}
		return nil
	})
	spec.Path = path
	if code == 0 {
		return spec, nil
	}
	exit := &wire.ExecExit{ExitCode: code, Error: msg, DurationMicros: time.Since(start).Microseconds()}
	if code == 126 && allowed != nil && strings.Contains(msg, notAllowedText) {
		exit.Denied = []wire.ExecDenial{{Program: filepath.Base(req.Argv[0]), Path: path, Reason: msg}}
		exit.DeniedCount = 1
	}
	return spec, exit
}

// denials fills exit with what the exec guard denied in the command's
// cgroup (nothing without a guard or a cgroup).
func (srv *server) denials(exit *wire.ExecExit, cg *cgroup) {
	if guard := srv.spawner.guard; guard != nil && cg != nil {
		exit.Denied, exit.DeniedCount = guard.take(strings.TrimPrefix(cg.dir, cgroupRoot))
	}
}
