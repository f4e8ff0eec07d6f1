package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	maxNameBytes  = 256
	maxKindBytes  = 64
	maxKeyBytes   = 256
	maxTypeBytes  = 128
	maxErrorBytes = 16 << 10
	maxReport     = 16 << 20
)

// checkText: non-empty unless optional, at most max bytes, UTF-8 without
// control characters (names end up in SSE lines, file listings and logs).
func checkText(what, s string, max int, optional bool) error {
	switch {
	case s == "" && !optional:
		return fmt.Errorf("%s: empty: %w", what, ErrInvalid)
	case len(s) > max:
		return fmt.Errorf("%s: longer than %d bytes: %w", what, max, ErrInvalid)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s: not UTF-8: %w", what, ErrInvalid)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%s: control character: %w", what, ErrInvalid)
	}
	return nil
}

func checkNewRun(r NewRun) error {
	if err := checkText("name", r.Name, maxNameBytes, false); err != nil {
		return err
	}
	if err := checkText("kind", r.Kind, maxKindBytes, false); err != nil {
		return err
	}
	if err := checkText("idempotency key", r.IdempotencyKey, maxKeyBytes, true); err != nil {
		return err
	}
	if len(r.Spec) > MaxSpecBytes || len(r.Input) > MaxSpecBytes {
		return fmt.Errorf("spec or input over %d bytes: %w", MaxSpecBytes, ErrTooLarge)
	}
	return nil
}

// fingerprint identifies what a request with an idempotency key asked for,
// so a reused key with a different request is told apart from a retry.
func fingerprint(r NewRun) string {
	h := sha256.New()
	for _, b := range [][]byte{[]byte(r.Name), []byte(r.Kind), r.Spec, r.Input} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// idempotentMatch is what CreateRun returns for an existing run with the key.
func idempotentMatch(existing Run, fp, storedFP string) (Run, bool, error) {
	if fp != storedFP {
		return Run{}, false, fmt.Errorf("idempotency key %q: used by run %s for a different request: %w",
			existing.IdempotencyKey, existing.ID, ErrConflict)
	}
	return existing, false, nil
}

// allowedFrom lists the statuses a run may change to `to` from.
func allowedFrom(to RunStatus) []RunStatus {
	switch {
	case to == RunRunning:
		return []RunStatus{RunQueued}
	case to.Terminal():
		return []RunStatus{RunQueued, RunRunning}
	}
	return nil
}

// checkUpdate validates u on its own and returns it normalised (time set,
// error truncated).
func checkUpdate(u RunUpdate, now time.Time) (RunUpdate, error) {
	if !u.Status.Valid() || u.Status == RunQueued {
		return u, fmt.Errorf("status %q: not a status a run can change to: %w", u.Status, ErrInvalid)
	}
	if !u.Status.Terminal() && (u.Error != "" || u.Report != nil) {
		return u, fmt.Errorf("error and report are only stored with a final status: %w", ErrInvalid)
	}
	if u.Report != nil && !json.Valid(u.Report) {
		return u, fmt.Errorf("report: not JSON: %w", ErrInvalid)
	}
	if len(u.Report) > maxReport {
		return u, fmt.Errorf("report: over %d bytes: %w", maxReport, ErrTooLarge)
	}
	if u.Time.IsZero() {
		u.Time = now
	}
	u.Time = u.Time.UTC()
	u.Error = truncateError(u.Error)
	return u, nil
}

// applyUpdate changes r as u says, or says why it may not.
func applyUpdate(r *Run, u RunUpdate) error {
	ok := false
	for _, s := range allowedFrom(u.Status) {
		ok = ok || r.Status == s
	}
	if !ok {
		return fmt.Errorf("run %s: %s → %s: %w", r.ID, r.Status, u.Status, ErrConflict)
	}
	r.Status = u.Status
	if u.Status == RunRunning {
		r.Started = u.Time
		return nil
	}
	r.Ended, r.Error, r.Report = u.Time, u.Error, u.Report
	return nil
}

// truncateError keeps stored errors bounded; an engine's long error must not
// make finishing its run fail.
func truncateError(s string) string {
	if len(s) <= maxErrorBytes {
		return s
	}
	s = s[:maxErrorBytes]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

func checkStage(s Stage) error {
	if err := checkText("stage name", s.Name, maxNameBytes, false); err != nil {
		return err
	}
	if !s.Status.Valid() {
		return fmt.Errorf("stage %q: status %q: %w", s.Name, s.Status, ErrInvalid)
	}
	if s.Attempts < 0 {
		return fmt.Errorf("stage %q: negative attempts: %w", s.Name, ErrInvalid)
	}
	return nil
}

// checkEvents validates a batch and returns it with times set and UTC.
func checkEvents(evs []Event, now time.Time) ([]Event, error) {
	if len(evs) == 0 {
		return nil, fmt.Errorf("no events: %w", ErrInvalid)
	}
	if len(evs) > MaxEventBatch {
		return nil, fmt.Errorf("%d events in one batch, over %d: %w", len(evs), MaxEventBatch, ErrTooLarge)
	}
	out := make([]Event, len(evs))
	for i, e := range evs {
		if e.Seq != 0 {
			return nil, fmt.Errorf("event %d: seq is assigned by the store: %w", i, ErrInvalid)
		}
		if err := checkText(fmt.Sprintf("event %d: type", i), e.Type, maxTypeBytes, false); err != nil {
			return nil, err
		}
		if len(e.Data) > MaxEventBytes {
			return nil, fmt.Errorf("event %d: data over %d bytes: %w", i, MaxEventBytes, ErrTooLarge)
		}
		if len(e.Data) > 0 {
			// Compact: every store keeps the same bytes, and one event is one
			// line (in the fs store's file and in an SSE data field).
			var buf bytes.Buffer
			if err := json.Compact(&buf, e.Data); err != nil {
				return nil, fmt.Errorf("event %d: data: not JSON: %w", i, ErrInvalid)
			}
			e.Data = buf.Bytes()
		}
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = e.Time.UTC()
		out[i] = e
	}
	return out, nil
}

func checkLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPageSize, nil
	case limit < 0 || limit > MaxPageSize:
		return 0, fmt.Errorf("limit %d: not in 1..%d: %w", limit, MaxPageSize, ErrInvalid)
	}
	return limit, nil
}

func checkFilter(f RunFilter) (RunFilter, error) {
	var err error
	if f.Limit, err = checkLimit(f.Limit); err != nil {
		return f, err
	}
	for _, s := range f.Status {
		if !s.Valid() {
			return f, fmt.Errorf("status filter %q: %w", s, ErrInvalid)
		}
	}
	if f.Cursor != "" && !ValidID(f.Cursor) {
		return f, fmt.Errorf("cursor %q: %w", f.Cursor, ErrInvalid)
	}
	return f, checkText("name filter", f.Name, maxNameBytes, true)
}

// matches reports whether r passes f's status and name conditions.
func (f RunFilter) matches(r Run) bool {
	if f.Name != "" && r.Name != f.Name {
		return false
	}
	if len(f.Status) == 0 {
		return true
	}
	for _, s := range f.Status {
		if r.Status == s {
			return true
		}
	}
	return false
}

func checkOutput(stage string, data []byte) error {
	if err := checkText("stage name", stage, maxNameBytes, false); err != nil {
		return err
	}
	if len(data) > MaxOutputBytes {
		return fmt.Errorf("output of %q: %d bytes, over %d: %w", stage, len(data), MaxOutputBytes, ErrTooLarge)
	}
	return nil
}

func checkSandboxConfig(config []byte) error {
	if !json.Valid(config) {
		return fmt.Errorf("sandbox config: not JSON: %w", ErrInvalid)
	}
	if len(config) > MaxSpecBytes {
		return fmt.Errorf("sandbox config: over %d bytes: %w", MaxSpecBytes, ErrTooLarge)
	}
	return nil
}

// nanos and fromNanos store times as Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
