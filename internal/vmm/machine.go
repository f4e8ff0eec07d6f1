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
)

// Machine is a running QEMU process and its runtime directory.
type Machine struct {
	cmd     *exec.Cmd
	dir     string
	console string
	conn    net.Conn
	netConn net.Conn      // the network device's frames; nil without a NIC
	done    chan struct{} // closed when QEMU has exited and been reaped
	stderr  bytes.Buffer  // QEMU's own diagnostics (bounded by QEMU's behaviour)
	waitErr error         // set before done is closed

	daemons []*fsDaemon // virtiofsd of each virtiofs share, stopped after QEMU

	closeOnce sync.Once
	closeErr  error
	stopCtx   func() bool
}

// Start launches QEMU and waits until it has connected the control channel.
// The VM is killed when ctx ends, when Close is called, or when this process
// dies (PR_SET_PDEATHSIG). On error nothing is left behind.
func Start(ctx context.Context, c Config) (_ *Machine, err error) {
	if err := c.validate(); err != nil {
		return nil, err
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
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(hex.EncodeToString(c.Secret)), 0o600); err != nil {
		return nil, fmt.Errorf("writing secret: %w", err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "ctl.sock"))
	if err != nil {
		return nil, fmt.Errorf("listening for the control channel: %w", err)
	}
	defer ln.Close()
	var netLn net.Listener
	if c.NIC != nil && c.NIC.Baseline == "" {
		if netLn, err = net.Listen("unix", filepath.Join(dir, NetSocket)); err != nil {
			return nil, fmt.Errorf("listening for the network device: %w", err)
		}
		defer netLn.Close()
	}
	console := c.ConsoleLog
	if console == "" {
		console = filepath.Join(dir, "console.log")
	}

	m := &Machine{dir: dir, console: console, done: make(chan struct{})}
	defer func() {
		if err != nil {
			m.stopDaemons()
		}
	}()
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
	m.cmd = exec.Command(c.QEMU, c.args(dir, console)...)
	m.cmd.Stdin = nil
	m.cmd.Stdout = io.Discard
	m.cmd.Stderr = &limitedBuffer{buf: &m.stderr, max: 64 << 10}
	m.cmd.SysProcAttr = procAttr()
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", c.QEMU, err)
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		close(m.done)
	}()
	defer func() {
		if err != nil {
			m.kill()
			<-m.done
		}
	}()

	// QEMU connects the control port's chardev and the netdev while it
	// starts, in no promised order: accept both before going on.
	conns, err := acceptAll(ctx, m.done, ln, netLn)
	if err != nil {
		if errors.Is(err, errQEMUExited) {
			return nil, fmt.Errorf("qemu exited at start: %s", m.exitDetail())
		}
		return nil, err
	}
	m.conn, m.netConn = conns[0], conns[1]
	if c.Incoming != "" {
		if err := m.load(ctx, c.Incoming); err != nil {
			m.conn.Close()
			return nil, err
		}
	}
	m.stopCtx = context.AfterFunc(ctx, func() { m.kill() })
	return m, nil
}

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
		m.closeErr = os.RemoveAll(m.dir)
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

var errQEMUExited = errors.New("qemu exited")

// acceptAll accepts one connection on each listener (nil listeners give a
// nil connection), until QEMU exits (errQEMUExited) or ctx ends. On error
// it closes whatever it accepted.
func acceptAll(ctx context.Context, exited <-chan struct{}, lns ...net.Listener) ([]net.Conn, error) {
	type accepted struct {
		i    int
		conn net.Conn
		err  error
	}
	ch := make(chan accepted, len(lns))
	waiting := 0
	for i, ln := range lns {
		if ln == nil {
			continue
		}
		waiting++
		go func() { // ends when ln accepts or is closed below; drained below
			c, err := ln.Accept()
			ch <- accepted{i, c, err}
		}()
	}
	conns := make([]net.Conn, len(lns))
	var failure error
	for waiting > 0 {
		select {
		case a := <-ch:
			waiting--
			conns[a.i] = a.conn
			if a.err != nil && failure == nil {
				failure = fmt.Errorf("accepting a QEMU connection: %w", a.err)
			}
			continue
		case <-exited:
			failure = errQEMUExited
		case <-ctx.Done():
			failure = context.Cause(ctx)
		}
		break
	}
	if failure == nil {
		return conns, nil
	}
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
	for ; waiting > 0; waiting-- {
		a := <-ch
		conns[a.i] = a.conn
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	return nil, failure
}
