package vmm

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/confine"
)

// Machine is a running QEMU process and its runtime directory.
type Machine struct {
	cmd     *exec.Cmd
	dir     string
	console string
	conn    net.Conn
	netConn net.Conn // the network device's frames; nil without a NIC
	jail    *confine.Jail
	confine ConfineStatus
	memMiB  int64         // the jail's memory limit, for the exit reason
	done    chan struct{} // closed when QEMU has exited and been reaped
	stderr  bytes.Buffer  // QEMU's own diagnostics (bounded by QEMU's behaviour)
	waitErr error         // set before done is closed
	oom     bool          // the cgroup's memory limit killed QEMU; set before done is closed

	daemons []*fsDaemon // virtiofsd of each virtiofs share, stopped after QEMU

	// mem is a template's guest RAM (a memfd QEMU maps shared), which
	// Save writes to memPath; nil otherwise.
	mem     *os.File
	memPath string

	closeOnce sync.Once
	closeErr  error
	stopCtx   func() bool
}

// Start launches QEMU, jailed as c.Confine allows, and returns once it is
// running; the control channel (Conn) and the network device (NetConn) are
// socket pairs, so they are usable at once. The VM is killed when ctx ends, when Close is called, or when this
// process dies (PR_SET_PDEATHSIG). On error nothing is left behind.
func Start(ctx context.Context, c Config) (_ *Machine, err error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	parent, err := runParent(c.RunDir)
	if err != nil {
		return nil, err
	}
	// Unix socket paths are limited to 107 bytes; a deep runtime dir
	// (a long $XDG_RUNTIME_DIR) falls back to the short per-user /tmp one.
	// attach.sock (internal/attach) is the longest socket name in it.
	if len(parent)+len("/vm-")+16+len("-1234567890/attach.sock") > maxSocketPath {
		if parent, err = runParent(filepath.Join(os.TempDir(), fmt.Sprintf("voidbox-%d", os.Getuid()))); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp(parent, "vm-"+shortName(c.Name)+"-")
	if err != nil {
		return nil, fmt.Errorf("creating runtime dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, err
	}
	sweepStale(parent)
	lim := limits(c.Policy, c.Accel)
	jail, err := c.Confine.Jail.New(confine.Spec{Name: c.Name, Limits: lim, Groups: kvmGroups(c.Accel)})
	if err != nil {
		return nil, fmt.Errorf("jailing qemu: %w", err)
	}
	defer func() {
		if err != nil {
			jail.Close()
		}
	}()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(hex.EncodeToString(c.Secret)), 0o600); err != nil {
		return nil, fmt.Errorf("writing secret: %w", err)
	}
	if err := jail.Give(secret); err != nil {
		return nil, fmt.Errorf("handing the secret to qemu's uid: %w", err)
	}
	console := c.ConsoleLog
	if console == "" {
		console = filepath.Join(dir, "console.log")
	}
	m := &Machine{dir: dir, console: console, jail: jail, memMiB: lim.MemoryBytes >> 20, done: make(chan struct{}),
		confine: ConfineStatus{Status: jail.Status(), Seccomp: c.Confine.Seccomp, SeccompReason: c.Confine.SeccompReason}}
	defer func() {
		if err != nil {
			m.stopDaemons()
		}
	}()
	defer func() {
		if err != nil && m.mem != nil {
			m.mem.Close()
		}
	}()
	if c.Memory.Template {
		if m.mem, err = newMemfd("voidbox-guest-ram", int64(c.Policy.WithDefaults().MemoryMiB)<<20); err != nil {
			return nil, err
		}
		m.memPath = c.Memory.Path
	}
	for i, sh := range c.Shares {
		if sh.protocol() != VirtioFS {
			continue
		}
		d, err := startVirtiofsd(ctx, c.virtiofsd(), sh, virtiofsSocket(dir, i))
		if err != nil {
			return nil, err
		}
		m.daemons = append(m.daemons, d)
	}
	r, conns, err := c.open(dir, secret, console)
	if err != nil {
		return nil, err
	}
	defer r.close() // QEMU holds its own copies once started
	defer func() {
		if err != nil {
			conns.close()
		}
	}()
	m.conn, m.netConn = conns.ctl, conns.net
	r.mem = m.mem
	if c.Memory.Image != nil {
		r.mem = c.Memory.Image.f // the caller's: not in r.all
	}
	if !m.confine.Seccomp && m.confine.SeccompReason == "" {
		m.confine.SeccompReason = "confinement not probed"
	}
	var in inputs
	m.cmd = exec.Command(c.QEMU, c.args(r, &in)...)
	m.cmd.Stderr = &limitedBuffer{buf: &m.stderr, max: 64 << 10}
	m.cmd.ExtraFiles = in.files
	if err := jail.Start(m.cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", c.QEMU, err)
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		m.oom = jail.OOMKilled()
		close(m.done)
	}()
	if r.state != nil {
		if err := m.load(ctx, in.number(r.state)); err != nil {
			m.kill()
			<-m.done
			return nil, err
		}
	}
	m.stopCtx = context.AfterFunc(ctx, func() { m.kill() })
	return m, nil
}

// hostConns are voidbox's ends of QEMU's socket pairs.
type hostConns struct {
	ctl net.Conn // the control channel
	net net.Conn // the network device; nil without one
}

func (h hostConns) close() {
	for _, c := range []net.Conn{h.ctl, h.net} {
		if c != nil {
			c.Close()
		}
	}
}

// open opens what QEMU is given: the guest image, the read-only disks, the
// secret, the console file, the control channel and the network device
// (socket pairs: voidbox keeps one end of each), a listening QMP socket in
// dir (voidbox dials it by path to stop QEMU), the 9p shares' directories
// and sockets connected to the virtiofs shares' daemons. On error nothing
// stays open.
func (c *Config) open(dir, secret, console string) (_ resources, _ hostConns, err error) {
	var r resources
	var h hostConns
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	open := func(path string, flag int) *os.File {
		if err != nil {
			return nil
		}
		f, ferr := os.OpenFile(path, flag|syscall.O_CLOEXEC, 0o600)
		if ferr != nil {
			err = ferr
			return nil
		}
		r.all = append(r.all, f)
		return f
	}
	r.kernel = open(c.Kernel, os.O_RDONLY)
	if c.Initramfs != "" {
		r.initramfs = open(c.Initramfs, os.O_RDONLY)
	}
	r.secret = open(secret, os.O_RDONLY)
	r.console = open(console, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if c.Incoming != "" {
		r.state = open(c.Incoming, os.O_RDONLY)
	}
	for _, d := range c.Disks {
		r.disks = append(r.disks, open(d.Path, os.O_RDONLY))
	}
	for i, sh := range c.Shares {
		if sh.protocol() == VirtioFS {
			r.shares = append(r.shares, dialFile(virtiofsSocket(dir, i), &r, &err))
			continue
		}
		r.shares = append(r.shares, open(sh.HostPath, os.O_RDONLY|syscall.O_DIRECTORY))
	}
	if err != nil {
		return r, h, fmt.Errorf("opening qemu's inputs: %w", err)
	}
	if r.ctl, h.ctl, err = socketPair(&r, "ctl"); err != nil {
		return r, h, fmt.Errorf("control channel: %w", err)
	}
	if c.NIC != nil && c.NIC.Baseline == "" {
		if r.net, h.net, err = socketPair(&r, "net"); err != nil {
			return r, h, fmt.Errorf("network device: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "qmp.sock"), Net: "unix"})
	if err == nil {
		ln.SetUnlinkOnClose(false) // QEMU listens on it from now on
		r.qmp, err = ln.File()
		ln.Close()
	}
	if err != nil {
		return r, h, fmt.Errorf("qmp socket: %w", err)
	}
	r.all = append(r.all, r.qmp)
	return r, h, nil
}

// socketPair makes a connected pair: QEMU's end (kept in r until started)
// and voidbox's.
func socketPair(r *resources, name string) (*os.File, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	ours := os.NewFile(uintptr(fds[0]), name)
	theirs := os.NewFile(uintptr(fds[1]), name+"-qemu")
	r.all = append(r.all, theirs)
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, nil, err
	}
	return theirs, conn, nil
}

// dialFile connects to the unix socket at path and returns the connection
// as a file for QEMU (kept in r), recording a failure in *errp.
func dialFile(path string, r *resources, errp *error) *os.File {
	if *errp != nil {
		return nil
	}
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		*errp = err
		return nil
	}
	defer c.Close()
	f, err := c.File() // a duplicate, close-on-exec
	if err != nil {
		*errp = err
		return nil
	}
	r.all = append(r.all, f)
	return f
}

// Confinement is which confinements this QEMU runs under.
func (m *Machine) Confinement() ConfineStatus { return m.confine }

// Conn is the host end of the virtio-serial control port.
func (m *Machine) Conn() net.Conn { return m.conn }

// NetConn is the host end of the network device (QEMU's `-netdev stream`
// framing), or nil when the VM has none. Whoever takes it owns it; Close
// closes it too.
func (m *Machine) NetConn() net.Conn { return m.netConn }

// PID is QEMU's process id.
func (m *Machine) PID() int { return m.cmd.Process.Pid }

// Dir is the private runtime directory (removed by Close).
func (m *Machine) Dir() string { return m.dir }

// Done is closed once QEMU has exited.
func (m *Machine) Done() <-chan struct{} { return m.done }

// Exited reports whether QEMU has exited, and why.
func (m *Machine) Exited() (bool, string) {
	select {
	case <-m.done:
		return true, m.exitDetail()
	default:
		return false, ""
	}
}

func (m *Machine) exitDetail() string {
	s := "exit status 0"
	if m.waitErr != nil {
		s = m.waitErr.Error()
	}
	if m.oom {
		s += fmt.Sprintf(" (killed by its cgroup's %d MiB memory limit)", m.memMiB)
	}
	if e := strings.TrimSpace(m.stderr.String()); e != "" {
		s += ": " + lastLines(e, 5)
	}
	return s
}

// ConsoleTail returns the last n lines of the serial console.
func (m *Machine) ConsoleTail(n int) string {
	b, err := readTail(m.console, 64<<10)
	if err != nil {
		return ""
	}
	return lastLines(strings.TrimRight(strings.ReplaceAll(string(b), "\r", ""), "\n"), n)
}

// PanicMessage returns the guest kernel's panic message from the console
// ("Attempted to kill init! exitcode=0x00000300"), or "" if it did not panic.
// The panic line usually scrolls out of a short tail behind the stack dump.
func (m *Machine) PanicMessage() string {
	b, err := readTail(m.console, 256<<10)
	if err != nil {
		return ""
	}
	const marker = "Kernel panic - not syncing: "
	i := bytes.LastIndex(b, []byte(marker))
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(string(b[i+len(marker):]), "\n")
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), "]---"))
}

// Wait blocks until QEMU exits or ctx ends.
func (m *Machine) Wait(ctx context.Context) error {
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// stop asks QEMU to quit over QMP and kills it if it has not exited soon.
func (m *Machine) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	if qmpQuit(filepath.Join(m.dir, "qmp.sock"), 500*time.Millisecond) == nil {
		select {
		case <-m.done:
			return
		case <-time.After(time.Second):
		}
	}
	m.kill()
}

// kill sends SIGKILL to QEMU (only to the process we started, by PID).
func (m *Machine) kill() {
	select {
	case <-m.done:
	default:
		_ = m.cmd.Process.Kill()
	}
}

// Close stops QEMU if it is still running (QMP quit, then SIGKILL), waits
// for it and removes the runtime directory. Idempotent.
func (m *Machine) Close() error {
	m.closeOnce.Do(func() {
		if m.stopCtx != nil {
			m.stopCtx()
		}
		if m.conn != nil {
			m.conn.Close()
		}
		if m.netConn != nil {
			m.netConn.Close()
		}
		m.stop()
		<-m.done
		m.stopDaemons()
		if m.mem != nil {
			m.mem.Close()
		}
		m.closeErr = errors.Join(m.jail.Close(), os.RemoveAll(m.dir))
	})
	return m.closeErr
}

// stopDaemons stops the virtiofsd helpers, which exit by themselves once
// QEMU has closed their sockets.
func (m *Machine) stopDaemons() {
	for _, d := range m.daemons {
		d.stop()
	}
	m.daemons = nil
}

// Shutdown waits up to grace for QEMU to exit on its own (after the guest
// powered off), then kills it.
func (m *Machine) Shutdown(grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-m.done:
	case <-t.C:
	}
	_ = m.Close()
}

// sweepStale removes runtime dirs left by voidbox processes that died
// without cleaning up (SIGKILL). Their QEMU died with them (parent-death
// signal); only the files remain.
func sweepStale(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "vm-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue // being created, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}

// maxSocketPath is sun_path's size minus the terminating NUL (unix(7)).
const maxSocketPath = 107

// RuntimeParents are the directories whose vm-* children are this user's
// VM runtime directories, wherever Start put them: $XDG_RUNTIME_DIR/voidbox
// (when set) and the short per-user one in the temp dir.
func RuntimeParents() []string {
	var out []string
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		out = append(out, filepath.Join(x, "voidbox"))
	}
	return append(out, filepath.Join(os.TempDir(), fmt.Sprintf("voidbox-%d", os.Getuid())))
}

func runParent(dir string) (string, error) {
	if dir == "" {
		if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
			dir = filepath.Join(x, "voidbox")
		} else {
			dir = filepath.Join(os.TempDir(), fmt.Sprintf("voidbox-%d", os.Getuid()))
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating runtime dir parent: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return "", fmt.Errorf("runtime dir %s is owned by uid %d, not us", dir, st.Uid)
	}
	return dir, nil
}

func shortName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 16 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "box"
	}
	return b.String()
}

func readTail(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := fi.Size() - max
	if off < 0 {
		off = 0
	}
	return io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
