//go:build unix

package cli

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/term"

	"github.com/voidbox/voidbox"
)

// watchResize sends out's new size on sizes after every SIGWINCH (the
// newest replaces one not yet taken) until stop is called.
func watchResize(out *os.File, sizes chan voidbox.WindowSize) (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-sig:
			}
			cols, rows, err := term.GetSize(int(out.Fd()))
			if err != nil {
				continue
			}
			ws := voidbox.WindowSize{Rows: clampSize(rows), Cols: clampSize(cols)}
			select {
			case <-sizes: // drop a size the guest has not been sent yet
			default:
			}
			sizes <- ws
		}
	})
	return func() {
		signal.Stop(sig)
		close(done)
		wg.Wait()
	}
}
