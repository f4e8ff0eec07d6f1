//go:build !linux

package guestinit

import (
	"fmt"
	"os"
)

func runInit() {
	fmt.Fprintln(os.Stderr, "voidbox-guest: only runs on Linux")
	os.Exit(2)
}

const guardArgv0 = "voidbox-exec-guard"

func runExecGuard() { runInit() }
