package attach

import (
	"sync"

	"github.com/voidbox/voidbox/internal/event"
)

// historyBytes bounds the events a hub keeps for followers who join late;
// older output is dropped first (a live view needs the recent part).
const historyBytes = 4 << 20

// hub keeps an attempt's events and hands them to followers.
type hub struct {
	mu      sync.Mutex
	history []event.Event // guarded by mu
	size    int           // guarded by mu; approximate bytes of history
	subs    map[chan event.Event]struct{}
	closed  bool
}

func newHub() *hub { return &hub{subs: map[chan event.Event]struct{}{}} }

// add records ev and passes it to every follower; one that cannot keep up
// loses the event rather than slowing the stage.
func (h *hub) add(ev event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	n := eventSize(ev)
	h.history = append(h.history, ev)
	h.size += n
	for h.size > historyBytes && len(h.history) > 1 {
		h.size -= eventSize(h.history[0])
		h.history[0] = event.Event{}
		h.history = h.history[1:]
	}
	for c := range h.subs {
		select {
		case c <- ev:
		default:
		}
	}
}

// subscribe returns the history so far and a channel of what follows,
// closed when the attempt ends (or at once if it has).
func (h *hub) subscribe() ([]event.Event, chan event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(chan event.Event, 1024)
	past := append([]event.Event(nil), h.history...)
	if h.closed {
		close(c)
		return past, c
	}
	h.subs[c] = struct{}{}
	return past, c
}

func (h *hub) unsubscribe(c chan event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[c]; ok {
		delete(h.subs, c)
		close(c)
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.subs {
		delete(h.subs, c)
		close(c)
	}
}

func eventSize(ev event.Event) int {
	if o, ok := ev.Data.(event.ExecOutput); ok {
		return 128 + len(o.Data)
	}
	return 256
}
