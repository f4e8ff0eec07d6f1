package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valkey-io/valkey-go"
)

// AppendEvents implements Events.
func (v *Valkey) AppendEvents(ctx context.Context, run string, evs []Event) (uint64, error) {
	evs, err := checkEvents(evs, time.Now())
	if err != nil {
		return 0, err
	}
	if err := v.check(); err != nil {
		return 0, err
	}
	if !ValidID(run) {
		return 0, fmt.Errorf("appending events: run %q: %w", run, ErrNotFound)
	}
	args := make([]string, 0, 3+3*len(evs))
	args = append(args, run, v.p+"notify", strconv.Itoa(len(evs)))
	for _, e := range evs {
		args = append(args, e.Type, itoa(nanos(e.Time)), valkey.BinaryString(e.Data))
	}
	last, err := result(scriptAppend.Exec(ctx, v.c, []string{v.k("run", run), v.k("events", run)}, args),
		"appending events: run "+run)
	if err != nil {
		return 0, err
	}
	n, err := last.AsInt64()
	if err != nil {
		return 0, fmt.Errorf("appending events: %w", err)
	}
	v.n.notify(run)
	return uint64(n), nil
}

// Events implements Events.
func (v *Valkey) Events(ctx context.Context, run string, after uint64, limit int) ([]Event, error) {
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, err
	}
	last, _, err := v.tail(ctx, run)
	if err != nil {
		return nil, err
	}
	if after >= last { // also keeps after+1 from overflowing
		return nil, nil
	}
	res, err := result(scriptEvents.Exec(ctx, v.c, []string{v.k("run", run), v.k("events", run)},
		[]string{strconv.FormatUint(after+1, 10) + "-0", strconv.Itoa(limit)}), "run "+run)
	if err != nil {
		return nil, err
	}
	entries, err := res.AsXRange()
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	out := make([]Event, 0, len(entries))
	for _, e := range entries {
		seqStr, _, _ := strings.Cut(e.ID, "-")
		seq, err := strconv.ParseUint(seqStr, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reading events: entry id %q: %w", e.ID, err)
		}
		ev := Event{Seq: seq, Type: e.FieldValues["t"], Time: fromNanos(atoi(e.FieldValues["ts"]))}
		if d := e.FieldValues["d"]; d != "" {
			ev.Data = []byte(d)
		}
		out = append(out, ev)
	}
	return out, nil
}

func (v *Valkey) tail(ctx context.Context, run string) (uint64, bool, error) {
	if err := v.check(); err != nil {
		return 0, false, err
	}
	if !ValidID(run) {
		return 0, false, fmt.Errorf("run %q: %w", run, ErrNotFound)
	}
	vals, err := v.c.Do(ctx, v.c.B().Hmget().Key(v.k("run", run)).Field("seq", "status").Build()).AsStrSlice()
	if err != nil && !isNil(err) {
		return 0, false, fmt.Errorf("run %s: %w", run, err)
	}
	if len(vals) != 2 || vals[1] == "" {
		return 0, false, fmt.Errorf("run %s: %w", run, ErrNotFound)
	}
	return uint64(atoi(vals[0])), RunStatus(vals[1]).Terminal(), nil
}

// WaitEvents implements Events (see Valkey for how it crosses processes).
func (v *Valkey) WaitEvents(ctx context.Context, run string, after uint64) error {
	return v.n.wait(ctx, run, after, v.tail)
}

// PutOutput implements Outputs.
func (v *Valkey) PutOutput(ctx context.Context, run, stage string, data []byte) error {
	if err := checkOutput(stage, data); err != nil {
		return err
	}
	if _, _, err := v.tail(ctx, run); err != nil { // before writing a file for nothing
		return err
	}
	o := fsOutput{Size: int64(len(data)), Data: nonNil(data)}
	if len(data) > InlineOutputMax {
		var err error
		if o.File, err = v.blobs.write(run, stage, data); err != nil {
			return err
		}
		o.Data = nil
	}
	b, _ := json.Marshal(o)
	oldJSON, err := v.putInFlight(ctx, run, "storing output of "+stage, v.k("outputs", run), "", stage, string(b))
	if err != nil {
		if o.File != "" {
			v.blobs.remove(run, o.File)
		}
		return err
	}
	var old fsOutput
	if oldJSON != "" && json.Unmarshal([]byte(oldJSON), &old) == nil && old.File != "" {
		v.blobs.remove(run, old.File)
	}
	return nil
}

func (v *Valkey) outputs(ctx context.Context, run string) (map[string]fsOutput, error) {
	if _, _, err := v.tail(ctx, run); err != nil {
		return nil, err
	}
	m, err := v.c.Do(ctx, v.c.B().Hgetall().Key(v.k("outputs", run)).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("reading outputs: %w", err)
	}
	out := make(map[string]fsOutput, len(m))
	for stage, js := range m {
		var o fsOutput
		if err := json.Unmarshal([]byte(js), &o); err != nil {
			return nil, fmt.Errorf("output of %q: %w", stage, err)
		}
		out[stage] = o
	}
	return out, nil
}

// Output implements Outputs.
func (v *Valkey) Output(ctx context.Context, run, stage string) ([]byte, error) {
	all, err := v.outputs(ctx, run)
	if err != nil {
		return nil, err
	}
	o, ok := all[stage]
	switch {
	case !ok:
		return nil, fmt.Errorf("output of stage %q: %w", stage, ErrNotFound)
	case o.File != "":
		return v.blobs.read(run, o.File)
	}
	return nonNil(o.Data), nil
}

// ListOutputs implements Outputs.
func (v *Valkey) ListOutputs(ctx context.Context, run string) ([]OutputInfo, error) {
	all, err := v.outputs(ctx, run)
	if err != nil {
		return nil, err
	}
	var out []OutputInfo
	for name, o := range all {
		out = append(out, OutputInfo{Stage: name, Size: o.Size})
	}
	sortOutputs(out)
	return out, nil
}
