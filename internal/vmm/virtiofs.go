package vmm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultVirtioFSD is where Debian's qemu-system-common puts virtiofsd.
const DefaultVirtioFSD = "/usr/lib/qemu/virtiofsd"

// Each virtiofs share is served by its own virtiofsd, started before QEMU
// and stopped after it, in two nested user namespaces:
//
//   - the outer one maps its root to this process's user and has its own
//     mount namespace, where a read-only share is bind-mounted read-only
//     over itself: the host kernel refuses every write, whatever virtiofsd
//     is asked (and the inner namespace cannot undo a mount it inherited);
//   - the inner one maps uid and gid 1000, the guest's sandbox user, to the
//     outer root, so files of this process's user appear to the guest as
//     the sandbox user's, and files the guest creates belong on the host to
//     the user who ran voidbox. Files of any other host user appear as
//     nobody (65534) and are reached only through their "other" permission
//     bits; guest root, unmapped, cannot create anything. --keep-caps makes
//     the namespace's capabilities survive the exec of virtiofsd (whose
//     uid there is 1000, not 0), which needs them for its own sandbox.
//
// virtiofsd itself then pivots into the directory (its namespace sandbox),
// so ".." and absolute symlinks cannot leave it on the host; the guest
// resolves symlinks in its own view.
const virtiofsScript = `set -e
src=$1 ro=$2 opts=$3 mount=$4 unshare=$5
shift 5
"$mount" --bind -- "$src" "$src"
if [ "$ro" = 1 ]; then "$mount" -o "remount,bind,ro$opts" -- "$src" "$src"; fi
exec "$unshare" --user --map-user=1000 --map-group=1000 --keep-caps -- "$@"`

// fsDaemon is one running virtiofsd.
type fsDaemon struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when it has exited and been reaped
	stderr limitedBuffer
	out    bytes.Buffer
}

// startVirtiofsd starts the daemon of share sh listening on sock and
// waits until the socket exists.
func startVirtiofsd(ctx context.Context, bin string, sh Share, sock string) (*fsDaemon, error) {
	mountBin, err := exec.LookPath("mount")
	if err != nil {
		return nil, fmt.Errorf("virtiofs share %s: %w (util-linux's mount)", sh.HostPath, err)
	}
	unshareBin, err := exec.LookPath("unshare")
	if err != nil {
		return nil, fmt.Errorf("virtiofs share %s: %w (util-linux's unshare)", sh.HostPath, err)
	}
	ro, opts := "0", ""
	if sh.ReadOnly {
		ro = "1"
		if opts, err = lockedMountOptions(sh.HostPath); err != nil {
			return nil, fmt.Errorf("virtiofs share %s: %w", sh.HostPath, err)
		}
	}
	argv := []string{"-c", virtiofsScript, "sh", sh.HostPath, ro, opts, mountBin, unshareBin,
		bin, "--socket-path=" + sock, "-o", "source=" + sh.HostPath, "-o", "cache=auto",
		"-o", "log_level=warn", "--rlimit-nofile=0"}
	d := &fsDaemon{done: make(chan struct{})}
	d.stderr.buf, d.stderr.max = &d.out, 16<<10
	d.cmd = exec.Command("/bin/sh", argv...)
	d.cmd.Stdout, d.cmd.Stderr = &d.stderr, &d.stderr
	uid, gid := os.Getuid(), os.Getgid()
	d.cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:                    true,
		Pdeathsig:                  syscall.SIGKILL,
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	if err := d.cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) && uid != 0 {
			err = fmt.Errorf("%w: %w", errNoUserNS, err)
		}
		return nil, fmt.Errorf("virtiofs share %s: starting virtiofsd in a user namespace: %w", sh.HostPath, err)
	}
	go func() {
		_ = d.cmd.Wait()
		close(d.done)
	}()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("virtiofs share %s: virtiofsd exited: %s", sh.HostPath, d.detail())
		case <-ctx.Done():
			d.stop()
			return nil, context.Cause(ctx)
		case <-deadline.C:
			d.stop()
			return nil, fmt.Errorf("virtiofs share %s: virtiofsd did not listen within 10s: %s", sh.HostPath, d.detail())
		case <-tick.C:
		}
	}
}

func (d *fsDaemon) detail() string {
	s := "exit status 0"
	if st := d.cmd.ProcessState; st != nil && !st.Success() {
		s = st.String()
	}
	d.stderr.mu.Lock()
	e := strings.TrimSpace(d.out.String())
	d.stderr.mu.Unlock()
	if e != "" {
		s += ": " + lastLines(e, 5)
	}
	return s
}

// stop kills the daemon (only the process we started, by PID) and reaps
// it. virtiofsd also exits by itself once QEMU closes its socket.
func (d *fsDaemon) stop() {
	select {
	case <-d.done:
		return
	case <-time.After(500 * time.Millisecond):
	}
	_ = d.cmd.Process.Kill()
	<-d.done
}

// lockedMountOptions are the flags a read-only remount of the bind of p
// must repeat: in a user namespace the kernel refuses a remount that would
// clear a flag the host mount has (nosuid, nodev, noexec, the atime mode).
func lockedMountOptions(p string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return "", err
	}
	var o []string
	for _, f := range []struct {
		bit  int64
		name string
	}{{unix.ST_NOSUID, "nosuid"}, {unix.ST_NODEV, "nodev"}, {unix.ST_NOEXEC, "noexec"},
		{unix.ST_NOATIME, "noatime"}, {unix.ST_NODIRATIME, "nodiratime"}, {unix.ST_RELATIME, "relatime"}} {
		if int64(st.Flags)&f.bit != 0 {
			o = append(o, f.name)
		}
	}
	if int64(st.Flags)&(unix.ST_NOATIME|unix.ST_RELATIME) == 0 {
		o = append(o, "strictatime")
	}
	return "," + strings.Join(o, ","), nil
}

// errNoUserNS explains the usual reason a user namespace cannot be made.
var errNoUserNS = errors.New("user namespaces are disabled on this host (sysctl kernel.unprivileged_userns_clone)")
