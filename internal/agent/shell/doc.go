// Package shell runs the agent's bash tool: a shell script interpreted in
// process by mvdan.cc/sh (bash syntax), where every external command passes
// a policy check at the moment it is executed.
//
// Checking at execution time, after expansion, is what makes the allowlist
// hold: `$x`, `$(echo wget)`, `eval`, `command`, `exec` and subshells all end
// up in the same exec handler with the final argv, so there is no string to
// smuggle a command past. A refused command fails with exit status 126 and a
// message on its stderr; the script goes on, as a shell would.
//
// Known limits, by design:
//   - An allowed program is trusted with everything it does. A program that
//     starts others (sh, env, xargs, nohup, timeout, nice, busybox, awk's
//     system(), make, git hooks) is only checked at its own start. None of
//     these is allowed unless listed: with an allowlist, only listed names
//     run at all. Listing one of them allows whatever it starts.
//   - `find` is the exception we inspect: with an allowlist, the program
//     named after -exec, -execdir, -ok or -okdir must be allowed too.
//   - The rule is the guest init's (wire.AllowedProgram): names only, found
//     in wire.CommandDirs, which are assumed writable by root only (true in
//     the voidbox guest image). A command's directory is resolved through
//     symlinks and the resolved path is what runs; the file itself is not
//     resolved (busybox applets are symlinks). An empty allowlist allows no
//     command; only a nil one means no allowlist.
//   - With an allowlist, LD_* variables are removed from every command's
//     environment, so an allowed dynamically linked program cannot be made
//     to load a library the agent wrote (LD_PRELOAD, LD_LIBRARY_PATH, …).
//   - Shell builtins (echo, printf, test, read, cd, …) are not commands and
//     always run; they cannot start processes.
//   - Every process a call starts runs in its own process group, which is
//     killed when the command ends or the call times out: nothing started by
//     one bash call outlives it (no background daemons across calls).
package shell
