package admission

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// watch calls removed after every removal of a file in dir until stop is
// called; stop returns once the watching goroutine has. An error (no
// inotify instance left: the default limit is 128 per user) means the
// caller must poll.
func watch(dir string, removed func()) (stop func(), err error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_DELETE); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking descriptor in an os.File goes through the runtime's
	// poller, so Close wakes the blocked Read below.
	f := os.NewFile(uintptr(fd), "inotify")
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			removed()
		}
	})
	return func() { f.Close(); wg.Wait() }, nil
}
