package wire

// Hello opens the handshake. The secret proves to the guest init that the peer
// is the voidbox process that started this VM; the guest reads its copy from a
// root-only firmware file, never from the world-readable kernel command line.
type Hello struct {
	Version      int    `json:"version"`
	Secret       string `json:"secret"`         // hex, 32 random bytes
	TimeUnixNano int64  `json:"time_unix_nano"` // host clock; the guest sets its clock from it
	Policy       Policy `json:"policy"`
	// Listeners are guest TCP endpoints the init opens; each accepted
	// connection becomes a guest-initiated stream to the named host service
	// (the LLM gateway), so the guest needs no network device for them.
	Listeners []Listener `json:"listeners,omitempty"`
	// Storage is mounted before the guest answers (see Storage).
	Storage Storage `json:"storage,omitzero"`
	// Network configures the guest's network interface before the init
	// answers (no DHCP); nil when the VM has no network device.
	Network *Network `json:"network,omitempty"`
	// CACerts are PEM certificates appended to the guest's CA bundle.
	CACerts string `json:"ca_certs,omitempty"`
	// Park asks the guest init to wait for a Resume after its Welcome
	// instead of starting the multiplexer (see Resume).
	Park bool `json:"park,omitempty"`
}

// Network is the static configuration of the guest's one interface. The
// guest finds the interface by MAC, turns IPv6 off on it (the host stack
// speaks IPv4 only, so no unfiltered path exists), sets the MTU, address
// and default route, and points /etc/resolv.conf at DNS.
type Network struct {
	MAC     string `json:"mac"`     // 52:54:00:12:34:56
	Address string `json:"address"` // CIDR: 10.0.2.15/24
	Gateway string `json:"gateway"` // 10.0.2.2
	DNS     string `json:"dns"`     // the resolver, 10.0.2.2
	MTU     int    `json:"mtu"`
}

// Listener is a guest-side endpoint tunnelled to a host service.
type Listener struct {
	Service string `json:"service"`
	Addr    string `json:"addr"` // host:port inside the guest, loopback only
}

// Policy is the sandbox policy the guest init enforces for every exec.
type Policy struct {
	// AllowedCommands is the command allowlist (see CheckProgramAllowed):
	// null means none, [] allows no command. Never omitempty: that would
	// turn "nothing allowed" into "no allowlist".
	AllowedCommands []string `json:"allowed_commands"`
	// TrustedDirs are directories the allowlist trusts besides
	// CommandDirs: the bin/ of read-only OCI skill images. The guest
	// refuses the handshake if one is not the bin/ of an image it mounts.
	TrustedDirs []string `json:"trusted_dirs,omitempty"`
	Limits      Limits   `json:"limits"`
	// DiskBytes is the one budget shared by every RAM-backed filesystem the
	// sandbox user can write (/workspace, /tmp, /home/sandbox, /dev/shm);
	// 0 means the guest's default, half the memory free after boot. The
	// guest refuses the handshake if it does not fit in its memory.
	DiskBytes int64 `json:"disk_bytes,omitempty"`
}

// Limits are the rlimits applied to every command. Zero means the guest default.
type Limits struct {
	Processes   uint64 `json:"processes,omitempty"`    // RLIMIT_NPROC
	OpenFiles   uint64 `json:"open_files,omitempty"`   // RLIMIT_NOFILE
	FileSize    uint64 `json:"file_size,omitempty"`    // RLIMIT_FSIZE, bytes
	CPUSeconds  uint64 `json:"cpu_seconds,omitempty"`  // RLIMIT_CPU
	OutputBytes int64  `json:"output_bytes,omitempty"` // per stream cap on streamed output
}

// Welcome accepts the handshake.
type Welcome struct {
	Version     int    `json:"version"`
	Kernel      string `json:"kernel"`       // uname -r of the guest
	InitVersion string `json:"init_version"` // build identifier of voidbox-guest (PID 1)
	BootMillis  int64  `json:"boot_millis"`  // guest uptime when the handshake completed
}

// Reject refuses the handshake.
type Reject struct {
	Reason string `json:"reason"`
}

// Error codes carried by Error.
const (
	CodeInvalid    = "invalid"
	CodeNotFound   = "not_found"
	CodeExists     = "exists"
	CodePermission = "permission"
	CodeTooLarge   = "too_large"
	CodeInternal   = "internal"
)

// Error reports a failed request.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// ExecRequest starts a command.
type ExecRequest struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env,omitempty"` // KEY=VALUE; PATH, HOME, USER get defaults when absent
	Dir  string   `json:"dir,omitempty"` // default /workspace
	// Root runs the command as root instead of the sandbox user. Only the host
	// sets this, for provisioning steps; user commands never run as root.
	Root bool `json:"root,omitempty"`
	// System marks a voidbox component started by the host (the built-in
	// agent): it runs as the sandbox user but is not subject to the command
	// allowlist, which it enforces itself on the commands it runs.
	System    bool  `json:"system,omitempty"`
	TimeoutMs int64 `json:"timeout_ms,omitempty"` // 0: no timeout
	Stdin     bool  `json:"stdin,omitempty"`      // false: stdin is /dev/null
}

// ExecStarted reports the command's pid in the guest.
type ExecStarted struct {
	PID int `json:"pid"`
}

// Signal asks the guest to deliver a signal to the command's process group.
type Signal struct {
	Signal int `json:"signal"`
}

// ExecExit ends an exec stream.
type ExecExit struct {
	ExitCode        int    `json:"exit_code"`        // 128+n when killed by signal n, like a shell
	Signal          int    `json:"signal,omitempty"` // the signal that ended it, if any
	TimedOut        bool   `json:"timed_out,omitempty"`
	StdoutDropped   int64  `json:"stdout_dropped,omitempty"` // bytes discarded past the output cap
	StderrDropped   int64  `json:"stderr_dropped,omitempty"`
	Error           string `json:"error,omitempty"` // why the command could not run, if it did not
	DurationMicros  int64  `json:"duration_us"`
	MaxRSSKilobytes int64  `json:"max_rss_kb,omitempty"`
	// OOMKilled says the kernel's out-of-memory killer killed a process of
	// this command (counted in the command's own cgroup).
	OOMKilled bool `json:"oom_killed,omitempty"`
	// Denied lists programs the command allowlist refused to the command
	// or any process it started (at most MaxDenials; DeniedCount counts
	// them all).
	Denied      []ExecDenial `json:"denied,omitempty"`
	DeniedCount int          `json:"denied_count,omitempty"`
}

// MaxDenials bounds ExecExit.Denied.
const MaxDenials = 16

// ExecDenial is one program the guest refused to run under the command
// allowlist: an exec the kernel check failed with EACCES, or a busybox
// applet started without an exec (then the process was killed).
type ExecDenial struct {
	PID     int    `json:"pid"`
	Program string `json:"program"`        // the name checked: a program or an applet
	Path    string `json:"path,omitempty"` // the path the exec named, resolved
	Reason  string `json:"reason"`
	Killed  bool   `json:"killed,omitempty"` // the process was killed rather than refused an exec
}

// WriteFile creates or replaces a file. Data follows as TFileData frames and a TFileEnd.
type WriteFile struct {
	Path    string `json:"path"`
	Mode    uint32 `json:"mode"`              // permission bits; 0 means 0644
	Parents bool   `json:"parents,omitempty"` // create missing parent directories
	Root    bool   `json:"root,omitempty"`    // owned by root instead of the sandbox user
}

// ReadFile asks for a file's content, refused if larger than MaxBytes.
type ReadFile struct {
	Path     string `json:"path"`
	MaxBytes int64  `json:"max_bytes"`
}

// PathRequest names a path (stat).
type PathRequest struct {
	Path string `json:"path"`
}

// Mkdir creates a directory.
type Mkdir struct {
	Path    string `json:"path"`
	Mode    uint32 `json:"mode"`
	Parents bool   `json:"parents,omitempty"`
	Root    bool   `json:"root,omitempty"`
}

// Mount attaches a host share (virtio-9p, tag set by the host) in the guest.
type Mount struct {
	Tag      string `json:"tag"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"read_only"`
}

// FileInfo describes a file (stat result, or the header of a read).
type FileInfo struct {
	Exists  bool   `json:"exists"`
	Size    int64  `json:"size"`
	Mode    uint32 `json:"mode"` // os.FileMode bits
	IsDir   bool   `json:"is_dir,omitempty"`
	ModUnix int64  `json:"mod_unix,omitempty"`
}

// Pong answers a ping.
type Pong struct {
	UptimeMillis int64 `json:"uptime_ms"`
}

// Tunnel names the host service a guest-initiated stream wants to reach.
type Tunnel struct {
	Service string `json:"service"`
}

// PtyRequest starts a command on a new guest pseudo-terminal: its stdin,
// stdout and stderr are the terminal, it leads a session of its own with
// the terminal as its controlling tty, and the allowlist, rlimits and
// timeout apply as to any exec. The terminal's output is not capped by
// Limits.OutputBytes: it is interactive, and yamux's flow control already
// holds it to the pace of the reader.
type PtyRequest struct {
	Exec ExecRequest `json:"exec"` // Stdin is ignored: the terminal is the input
	Size WindowSize  `json:"size"`
	// Term is the guest's TERM (letters, digits, "-", "_", "." and "+";
	// anything else becomes "xterm").
	Term string `json:"term,omitempty"`
}

// WindowSize is a terminal's size in character cells (TIOCSWINSZ).
type WindowSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}
