// Package voidbox runs commands and agents in micro-VMs.
//
// A Sandbox is one QEMU microvm with voidbox's guest init as PID 1. Commands run in it
// as an unprivileged user (uid 1000) under rlimits, with their output streamed
// back as it is produced:
//
//	sb, err := voidbox.New(ctx, voidbox.Config{MemoryMiB: 512})
//	if err != nil { ... }
//	defer sb.Close()
//	res, err := sb.Exec(ctx, voidbox.Cmd{Args: []string{"uname", "-r"}})
//
// Boxes and pipelines compose sandboxes: each stage runs in its own VM.
package voidbox
