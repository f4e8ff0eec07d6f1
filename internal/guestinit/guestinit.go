// Package guestinit is the guest init: PID 1 inside a voidbox micro-VM
// (cmd/voidbox-guest). It sets up the minimal system (mounts, kernel modules,
// loopback, reaper), authenticates the host on the virtio-serial control port
// and then serves exec, file, mount and tunnel requests as the control server.
// It is not the LLM agent (internal/agent), which runs as an ordinary
// command in agent stages' VMs.

package guestinit

import (
	"fmt"
	"os"

	"github.com/voidbox/voidbox/internal/netbench"
	"github.com/voidbox/voidbox/internal/wire"
)

// Version identifies this build of the guest init, sent to the host in the
// handshake's Welcome; set with -ldflags -X.
var Version = "dev"

// Well-known guest paths.
const (
	SecretPath   = "/sys/firmware/qemu_fw_cfg/by_name/" + wire.SecretFwCfgName + "/raw"
	ModulesFile  = "/etc/voidbox/modules.json"
	WorkspaceDir = "/workspace"
	SandboxHome  = "/home/sandbox"
	SandboxUID   = 1000
	SandboxGID   = 1000
)

// Main dispatches on how the binary was started.
func Main() {
	switch {
	case os.Getpid() == 1:
		runInit() // does not return
	case len(os.Args) == 1 && os.Args[0] == guardArgv0 && os.Geteuid() == 0:
		runExecGuard() // PID 1's exec guard (execguard_linux.go); does not return
	case len(os.Args) > 1 && os.Args[1] == netbench.Command:
		// `voidbox bench net` runs its guest-side client as /init: the one
		// program of ours every image has.
		if err := netbench.Client(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "voidbox-guest: must run as PID 1 inside a voidbox micro-VM")
		os.Exit(2)
	}
}
