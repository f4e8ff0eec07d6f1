package ttyfilter

import (
	"fmt"
	"slices"
	"strings"
)

// modeDefaults are the DEC private modes Restore puts back, with their
// power-on value: the ones a full-screen program or a line editor turns
// on and may leave on if it dies.
var modeDefaults = map[int]bool{
	1:    false, // application cursor keys
	6:    false, // origin mode
	7:    true,  // autowrap
	9:    false, // X10 mouse
	25:   true,  // cursor visible
	47:   false, // alternate screen
	1000: false, // mouse: press and release
	1001: false, // mouse: highlight
	1002: false, // mouse: cell motion
	1003: false, // mouse: all motion
	1004: false, // focus events
	1005: false, // mouse: UTF-8 coordinates
	1006: false, // mouse: SGR coordinates
	1015: false, // mouse: urxvt coordinates
	1016: false, // mouse: SGR pixels
	1047: false, // alternate screen
	1049: false, // alternate screen, saved cursor
	2004: false, // bracketed paste
	2026: false, // synchronized output
}

// Restore returns what puts the user's terminal back as it was before the
// session, as far as the guest changed it: the private modes it set or
// reset (alternate screen, mouse reporting, bracketed paste, hidden
// cursor, ...), the keypad mode, scrolling margins, cursor style, the
// kitty keyboard modes it pushed, and the text attributes. Write it when
// the session ends, whatever the guest did.
func (f *Filter) Restore() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	if f.st != ground { // cut off in a sequence: end it so the next byte is text
		b.WriteString("\x18")
	}
	// Leave the alternate screen first, so what follows applies to the
	// screen the user returns to.
	for _, m := range []int{1049, 1047, 47} {
		if on, ok := f.modes[m]; ok && on {
			fmt.Fprintf(&b, "\x1b[?%dl", m)
		}
	}
	for _, m := range slices.Sorted(func(yield func(int) bool) {
		for m := range f.modes {
			if !yield(m) {
				return
			}
		}
	}) {
		def, known := modeDefaults[m]
		if !known || m == 1049 || m == 1047 || m == 47 || f.modes[m] == def {
			continue
		}
		if def {
			fmt.Fprintf(&b, "\x1b[?%dh", m)
		} else {
			fmt.Fprintf(&b, "\x1b[?%dl", m)
		}
	}
	if f.keypad {
		b.WriteString("\x1b>")
	}
	if f.margins {
		b.WriteString("\x1b7\x1b[r\x1b8") // DECSTBM homes the cursor: keep it where it is
	}
	if f.cursorStyle {
		b.WriteString("\x1b[0 q")
	}
	for range f.kittyKeys {
		b.WriteString("\x1b[<u")
	}
	b.WriteString("\x1b[0m")
	return []byte(b.String())
}
