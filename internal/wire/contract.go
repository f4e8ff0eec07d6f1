package wire

// Names both ends of a VM agree on outside the protocol itself: the host
// gives QEMU these, the guest init looks for them.
const (
	// ControlPortName is the virtio-serial port of the control channel.
	ControlPortName = "org.voidbox.ctl"
	// SecretFwCfgName is the QEMU firmware file holding the per-VM secret;
	// the guest reads it at /sys/firmware/qemu_fw_cfg/by_name/<name>/raw,
	// readable by root only.
	SecretFwCfgName = "opt/org.voidbox/secret"
	// NetCmdline is the kernel command-line word the host adds when the VM
	// has a network device, so the guest init loads its driver with the
	// boot modules instead of during the handshake. It carries no secret
	// and no configuration: those come in the handshake.
	NetCmdline = "voidbox.net=1"
)

// DefaultPath is the PATH of guest commands that set none (and the base the
// host extends with OCI skills' bin directories).
const DefaultPath = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"

// PreloadParam is the kernel command-line word (PreloadParam=a,b) naming
// on-demand modules the guest init loads during boot, before the
// handshake needs them. It names modules only, never anything secret (the
// command line is world-readable in the guest).
const PreloadParam = "voidbox.preload"
