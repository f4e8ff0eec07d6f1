package daemon

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/store"
)

// Event stream tuning.
const (
	ssePage      = 256              // events read per store call
	sseHeartbeat = 15 * time.Second // a comment after this much silence
	sseRetry     = 2 * time.Second  // the reconnect delay clients are told
	maxLongPoll  = 60 * time.Second // the JSON form's ?wait
)

// events serves a run's events: Server-Sent Events by default (id = the
// store's sequence id, event = the type, data = the event's JSON form),
// resumable with Last-Event-ID or ?after; with Accept: application/json a
// page of them instead (?after, ?limit, ?wait to long-poll).
func (d *Daemon) events(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	after, err := apiserver.ResumeAfter(r)
	if err != nil {
		return err
	}
	if _, err := d.st.GetRun(r.Context(), id); err != nil {
		return err
	}
	if wantsJSON(r) {
		return d.eventPage(w, r, id, after)
	}
	sse, err := apiserver.StartSSE(w, sseRetry)
	if err != nil {
		return nil // the client is gone
	}
	err = apiserver.Stream(r.Context(), sse, sseHeartbeat, &eventSource{st: d.st, run: id, after: after})
	if err != nil && r.Context().Err() == nil {
		d.log.Debug("event stream ended", "run", id, "err", err)
	}
	return nil // the response has begun: nothing more to say in it
}

// wantsJSON: the Accept header prefers application/json to
// text/event-stream (a missing header or */* gets the stream).
func wantsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json":
			return true
		case "text/event-stream":
			return false
		}
	}
	return false
}

func (d *Daemon) eventPage(w http.ResponseWriter, r *http.Request, id string, after uint64) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "", "query: %v", err)
	}
	limit := store.DefaultPageSize
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if len(v) != 1 || err != nil || n < 1 || n > store.MaxPageSize {
			return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "limit", "want one number in 1..%d", store.MaxPageSize)
		}
		limit = n
	}
	if v, ok := q["wait"]; ok {
		wait, err := time.ParseDuration(v[0])
		if len(v) != 1 || err != nil || wait < 0 || wait > maxLongPoll {
			return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "wait", "want one duration in 0s..%v", maxLongPoll)
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		err = d.st.WaitEvents(ctx, id, after)
		cancel()
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	evs, err := d.st.Events(r.Context(), id, after, limit)
	if err != nil {
		return err
	}
	page := apiv1.EventPage{Events: make([]apiv1.Event, 0, len(evs))}
	for _, e := range evs {
		page.Events = append(page.Events, apiv1.Event{ID: e.Seq, Event: e.Data})
		after = e.Seq
	}
	run, err := d.st.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	page.Done = run.Status.Terminal() && after >= run.LastSeq
	apiserver.WriteJSON(w, http.StatusOK, page)
	return nil
}

// eventSource feeds one SSE response from the store.
type eventSource struct {
	st    store.Store
	run   string
	after uint64
}

func (s *eventSource) Next(ctx context.Context) ([]apiserver.Message, bool, error) {
	evs, err := s.st.Events(ctx, s.run, s.after, ssePage)
	if err != nil {
		return nil, false, err
	}
	msgs := make([]apiserver.Message, 0, len(evs))
	for _, e := range evs {
		msgs = append(msgs, apiserver.Message{ID: apiserver.FormatEventID(e.Seq), Event: e.Type, Data: e.Data})
		s.after = e.Seq
	}
	if len(evs) == ssePage {
		return msgs, false, nil // more right away
	}
	// Caught up: done once the run is terminal and nothing is left (its
	// events are all stored before its status changes).
	run, err := s.st.GetRun(ctx, s.run)
	if err != nil {
		return msgs, false, err
	}
	return msgs, run.Status.Terminal() && s.after >= run.LastSeq, nil
}

func (s *eventSource) Wait(ctx context.Context) error { return s.st.WaitEvents(ctx, s.run, s.after) }
