// Package guest is the guest agent: PID 1 inside a voidbox micro-VM. It sets up
// the minimal system (mounts, kernel modules, clock), authenticates the host on
// the virtio-serial control port and then serves exec and file requests.

package guest

import (
	"fmt"
	"os"

	"github.com/voidbox/voidbox/internal/wire"
)

// AgentVersion identifies this build of the guest agent; set with -ldflags -X.
var AgentVersion = "dev"

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
	default:
		fmt.Fprintln(os.Stderr, "voidbox-guest: must run as PID 1 inside a voidbox micro-VM")
		os.Exit(2)
	}
}
