package apiserver

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/store"
)

// storeSource streams a run's events from a store, after `after`, ending
// once the run is terminal and everything is sent (what the daemon's events
// endpoint will do).
type storeSource struct {
	s     store.Store
	run   string
	after uint64
}

func (src *storeSource) Next(ctx context.Context) ([]Message, bool, error) {
	evs, err := src.s.Events(ctx, src.run, src.after, 100)
	if err != nil || len(evs) > 0 {
		return toMessages(evs, &src.after), false, err
	}
	r, err := src.s.GetRun(ctx, src.run)
	if err != nil || !r.Status.Terminal() {
		return nil, false, err
	}
	// Terminal: events are written before the status, so one more read
	// drains the stream.
	evs, err = src.s.Events(ctx, src.run, src.after, 100)
	return toMessages(evs, &src.after), len(evs) == 0, err
}

func (src *storeSource) Wait(ctx context.Context) error {
	return src.s.WaitEvents(ctx, src.run, src.after)
}

func toMessages(evs []store.Event, after *uint64) []Message {
	ms := make([]Message, len(evs))
	for i, e := range evs {
		ms[i] = Message{ID: FormatEventID(e.Seq), Event: e.Type, Data: e.Data}
		*after = e.Seq
	}
	return ms
}

func eventsHandler(s store.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/runs/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		after, err := ResumeAfter(r)
		if err != nil {
			WriteError(w, err)
			return
		}
		sse, err := StartSSE(w, time.Second)
		if err != nil {
			return
		}
		Stream(r.Context(), sse, 200*time.Millisecond, &storeSource{s: s, run: r.PathValue("id"), after: after})
	})
	return mux
}

// TestSSEResume: a client that disconnects mid-run and reconnects with
// Last-Event-ID gets every event exactly once, in order, while the run is
// still producing, and the stream ends when the run does.
func TestSSEResume(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, _, err := st.CreateRun(ctx, store.NewRun{Name: "r", Kind: "pipeline"})
	if err != nil {
		t.Fatal(err)
	}
	path := socketPath(t)
	serve(t, Config{Handler: eventsHandler(st), Socket: path})

	const total = 60
	produced := make(chan error, 1)
	go func() { // the run: events in small batches, then the end
		for i := 0; i < total; i += 3 {
			evs := []store.Event{}
			for j := i; j < i+3; j++ {
				evs = append(evs, store.Event{Type: "exec.output", Data: fmt.Appendf(nil, `{"n":%d}`, j+1)})
			}
			if _, err := st.AppendEvents(ctx, run.ID, evs); err != nil {
				produced <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		_, err := st.UpdateRun(ctx, run.ID, store.RunUpdate{Status: store.RunSucceeded})
		produced <- err
	}()

	var got []uint64
	read := func(lastID string, max int) {
		req, _ := http.NewRequest("GET", "http://voidbox/v1/runs/"+run.ID+"/events", nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := unixClient(path, false).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := &sseReader{br: bufio.NewReader(resp.Body)}
		for n := 0; n < max; n++ {
			ev, err := r.next()
			if err != nil {
				return // the stream ended
			}
			id, _ := strconv.ParseUint(ev.ID, 10, 64)
			if ev.Data != fmt.Sprintf(`{"n":%d}`, id) || ev.Event != "exec.output" {
				t.Fatalf("event %s: %s %s", ev.ID, ev.Event, ev.Data)
			}
			got = append(got, id)
		}
	}
	read("", 7)
	read(strconv.FormatUint(got[len(got)-1], 10), 20)
	read(strconv.FormatUint(got[len(got)-1], 10), 1<<30) // to the end
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	if len(got) != total {
		t.Fatalf("got %d events, want %d: %v", len(got), total, got)
	}
	for i, id := range got {
		if id != uint64(i+1) {
			t.Fatalf("event %d has id %d: lost or duplicated across reconnects: %v", i, id, got)
		}
	}
	// A bad Last-Event-ID is a JSON 400 naming the header.
	req, _ := http.NewRequest("GET", "http://voidbox/v1/runs/"+run.ID+"/events", nil)
	req.Header.Set("Last-Event-ID", "-1")
	resp, err := unixClient(path, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if code, field := apiError(t, resp); resp.StatusCode != 400 || code != CodeInvalid || field != "Last-Event-ID" {
		t.Fatalf("bad Last-Event-ID: %d %s %s", resp.StatusCode, code, field)
	}
}
