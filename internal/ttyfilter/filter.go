// Package ttyfilter stands between a guest terminal's output and the
// user's real terminal. An interactive shell needs what a terminal
// normally does — text, colours, cursor movement, the alternate screen,
// a title, hyperlinks — but the guest is untrusted, and some sequences
// reach beyond the screen: the clipboard (OSC 52, read or written),
// colour and font changes that outlive the session, window moves and
// reports (XTWINOPS, whose title report replays text as if typed), device
// control strings (DCS: terminal-specific commands, tmux passthrough to
// the outer terminal), and the APC/PM/SOS strings of graphics and other
// protocols. The filter passes the first kind and drops the second,
// whole, so a broken-up or overlong sequence cannot smuggle anything
// through; and it remembers which terminal modes the guest turned on so
// Restore can turn them off when the session ends.
//
// Rules (ECMA-48 syntax, xterm meanings):
//
//	ground text, C0 controls      pass
//	ESC single-char/charset seqs  pass (ESC 7/8, ESC =/>, ESC ( B, ESC c, ...)
//	CSI ... final                 pass, except final 't' (window ops and reports): drop
//	OSC 0/1/2 (titles), 7 (cwd),
//	  8 (hyperlinks)              pass (at most MaxOSC bytes, else dropped)
//	every other OSC               drop (52 clipboard, 4/10-19/104/110-119 colours, 50 font, 1337, ...)
//	DCS, SOS, PM, APC strings     drop
//	C1 controls as UTF-8 (U+0080–U+009F)  drop
//
// Queries that only make the terminal answer with facts about itself
// (cursor position CSI 6 n, device attributes CSI c) pass: a shell's line
// editor uses them, and the answer goes to the guest, which is typing on
// that terminal anyway.
package ttyfilter

import (
	"bytes"
	"io"
	"strconv"
	"sync"
)

// Limits on a sequence kept whole before it is judged. Longer ones are
// dropped: legitimate CSI sequences are short; titles and links fit.
const (
	MaxCSI = 256
	MaxOSC = 4096
)

type state int

const (
	ground   state = iota
	escape         // after ESC
	escInter       // ESC + intermediate bytes (charset designation, ...)
	csi            // ESC [ ... until a final byte
	osc            // ESC ] ... until BEL or ST
	oscEsc         // ESC inside an OSC: ST if '\'
	drop           // a DCS/SOS/PM/APC string or an overlong OSC: until ST
	dropEsc        // ESC inside a dropped string
	c2             // a 0xC2 lead byte: U+0080–U+009F are C1 controls
)

// Filter writes what a guest terminal sends to w, without the sequences
// that reach beyond the screen. Safe for concurrent use.
type Filter struct {
	mu    sync.Mutex
	w     io.Writer
	st    state
	seq   []byte // the sequence being read (kept whole until judged)
	drops bool   // the dropped string is an overlong OSC (ends at BEL too)
	out   bytes.Buffer
	modes map[int]bool // private modes the guest set (true) or reset (false)
	// Other state that outlives a session, restored by Restore.
	keypad, margins, cursorStyle bool
	kittyKeys                    int
	dropped                      int
}

// New returns a filter writing to w.
func New(w io.Writer) *Filter { return &Filter{w: w, modes: map[int]bool{}} }

// Write filters p. A sequence split across writes is held until it is
// complete; it returns len(p) unless w failed.
func (f *Filter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out.Reset()
	for _, b := range p {
		f.step(b)
	}
	if f.out.Len() == 0 {
		return len(p), nil
	}
	if _, err := f.w.Write(f.out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Dropped counts the sequences dropped so far.
func (f *Filter) Dropped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

func (f *Filter) step(b byte) {
	switch f.st {
	case ground:
		switch b {
		case 0x1b:
			f.begin(escape, b)
		case 0xc2:
			f.st = c2
		default:
			f.out.WriteByte(b)
		}
	case c2:
		f.st = ground
		if b >= 0x80 && b <= 0x9f {
			f.dropped++ // a C1 control (8-bit CSI, OSC, DCS...) in UTF-8
			return
		}
		f.out.WriteByte(0xc2)
		f.step(b)
	case escape:
		f.seq = append(f.seq, b)
		switch {
		case b == '[':
			f.st = csi
		case b == ']':
			f.st = osc
		case b == 'P' || b == 'X' || b == '^' || b == '_':
			f.startDrop(false)
		case b >= 0x20 && b <= 0x2f:
			f.st = escInter
		case b == 0x1b:
			f.begin(escape, b)
		case b == '=':
			f.keypad = true
			f.emit()
		case b == '>':
			f.keypad = false
			f.emit()
		default:
			f.emit()
		}
	case escInter:
		f.seq = append(f.seq, b)
		switch {
		case b >= 0x20 && b <= 0x2f && len(f.seq) < 8:
		case b >= 0x30 && b <= 0x7e:
			f.emit()
		default:
			f.abort(b)
		}
	case csi:
		switch {
		case b == 0x18 || b == 0x1a: // CAN, SUB cancel a sequence
			f.abort(0)
		case b == 0x1b:
			f.abort(b)
		case b < 0x20:
			f.out.WriteByte(b) // C0 controls inside CSI act at once (ECMA-48)
		case len(f.seq) >= MaxCSI:
			f.startDrop(true)
		case b >= 0x40 && b <= 0x7e:
			f.seq = append(f.seq, b)
			f.endCSI()
		default:
			f.seq = append(f.seq, b)
		}
	case osc:
		switch {
		case b == 0x07:
			f.endOSC()
		case b == 0x1b:
			f.st = oscEsc
		case b == 0x18 || b == 0x1a:
			f.abort(0)
		case len(f.seq) >= MaxOSC:
			f.startDrop(true)
		default:
			f.seq = append(f.seq, b)
		}
	case oscEsc:
		if b == '\\' {
			f.endOSC()
			return
		}
		f.abort(0x1b) // ESC then something else: the OSC was cut short
		f.step(b)
	case drop:
		switch {
		case b == 0x1b:
			f.st = dropEsc
		case b == 0x18 || b == 0x1a, b == 0x07 && f.drops:
			f.st = ground
		}
	case dropEsc:
		if b == '\\' {
			f.st = ground
			return
		}
		f.st = drop
		if b == 0x1b {
			f.st = dropEsc
		}
	}
}

func (f *Filter) begin(s state, b byte) {
	f.st = s
	f.seq = append(f.seq[:0], b)
}

// emit writes the sequence read so far and returns to text.
func (f *Filter) emit() {
	f.out.Write(f.seq)
	f.seq = f.seq[:0]
	f.st = ground
}

// abort drops an unfinished sequence; next (if not 0) starts anew.
func (f *Filter) abort(next byte) {
	f.dropped++
	f.seq = f.seq[:0]
	f.st = ground
	if next == 0x1b {
		f.begin(escape, next)
	}
}

func (f *Filter) startDrop(overlongOSC bool) {
	f.dropped++
	f.seq = f.seq[:0]
	f.st, f.drops = drop, overlongOSC
}

// endCSI judges a complete CSI sequence (f.seq is ESC [ params final).
func (f *Filter) endCSI() {
	body := f.seq[2 : len(f.seq)-1]
	final := f.seq[len(f.seq)-1]
	switch {
	case final == 't': // XTWINOPS: move/resize/iconify the window, report title or size
		f.dropped++
		f.seq, f.st = f.seq[:0], ground
		return
	case (final == 'h' || final == 'l') && len(body) > 0 && body[0] == '?':
		for _, p := range bytes.Split(body[1:], []byte(";")) {
			if n, err := strconv.Atoi(string(p)); err == nil {
				f.modes[n] = final == 'h'
			}
		}
	case final == 'r' && len(body) > 0 && body[0] != '?':
		f.margins = true
	case final == 'r' && len(body) == 0:
		f.margins = false
	case final == 'q' && bytes.HasSuffix(body, []byte(" ")):
		f.cursorStyle = true
	case final == 'u' && len(body) > 0 && body[0] == '>':
		f.kittyKeys++
	case final == 'u' && len(body) > 0 && body[0] == '<':
		f.kittyKeys = max(f.kittyKeys-1, 0)
	}
	f.emit()
}

// endOSC judges a complete OSC (f.seq is ESC ] payload, without its
// terminator); one that passes is written with ST, whichever it came with.
func (f *Filter) endOSC() {
	payload := f.seq[2:]
	num, _, _ := bytes.Cut(payload, []byte(";"))
	switch string(num) {
	case "0", "1", "2", "7", "8":
		f.out.Write(f.seq)
		f.out.WriteString("\x1b\\")
	default:
		f.dropped++
	}
	f.seq, f.st = f.seq[:0], ground
}
