package progress_test

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/progress"
)

// openPTY returns both ends of a new pseudo-terminal of the given width.
func openPTY(t *testing.T, cols uint16) (ptmx, pts *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("opening pty master: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening pty slave: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: cols}); err != nil {
		t.Fatalf("setting pty size: %v", err)
	}
	return ptmx, pts
}

func TestAutoIsLiveOnATerminal(t *testing.T) {
	ptmx, pts := openPTY(t, 30)
	r := progress.New(pts, progress.Options{Interval: time.Hour})
	r.Emit(event.Event{Time: time.Now(), Run: "tty", Data: event.RunStarted{Stages: []string{"a-stage-with-a-name-longer-than-the-terminal"}}})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ptmx.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatalf("pty master is not pollable: %v", err)
	}
	var got strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "\x1b[2A") {
		n, err := ptmx.Read(buf)
		if err != nil {
			t.Fatalf("reading pty after %q: %v", got.String(), err)
		}
		got.Write(buf[:n])
	}
	if !strings.HasPrefix(got.String(), "\r\x1b[J") {
		t.Errorf("terminal got %q, want a live frame", got.String())
	}
	for _, l := range strings.Split(got.String(), "\r\n") {
		if i := strings.LastIndex(l, "\x1b[J"); i >= 0 {
			l = l[i+3:]
		}
		if len(l) > 29 {
			t.Errorf("line %q is wider than the 30-column terminal allows", l)
		}
	}
}
