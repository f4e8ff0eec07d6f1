package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The JSON form (docs/events.md):
//
//	{"time":"…","type":"stage.started","run":"r","stage":"s","attempt":1,"fields":{…}}
//
// run, stage, attempt and fields are omitted when empty.
type envelope struct {
	Time    time.Time       `json:"time"`
	Type    Type            `json:"type"`
	Run     string          `json:"run,omitempty"`
	Stage   string          `json:"stage,omitempty"`
	Attempt int             `json:"attempt,omitempty"`
	Fields  json.RawMessage `json:"fields,omitempty"`
}

// MaxLine bounds one encoded event read from an untrusted source.
const MaxLine = 64 << 10

// ErrMalformed reports bytes that are not a valid event.
var ErrMalformed = errors.New("malformed event")

// MarshalJSON encodes e in the envelope form.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Data == nil {
		return nil, errors.New("event without data")
	}
	env := envelope{Time: e.Time, Type: e.Type(), Run: e.Run, Stage: e.Stage, Attempt: e.Attempt}
	fields, err := json.Marshal(e.Data)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(fields, []byte("{}")) {
		env.Fields = fields
	}
	return json.Marshal(env)
}

// UnmarshalJSON decodes the envelope form; see Decode for untrusted input.
func (e *Event) UnmarshalJSON(b []byte) error {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	decode, ok := registry[env.Type]
	if !ok {
		return fmt.Errorf("%w: unknown type %q", ErrMalformed, Truncate(string(env.Type), 64))
	}
	d, err := decode(env.Fields)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, env.Type, err)
	}
	*e = Event{Time: env.Time, Run: env.Run, Stage: env.Stage, Attempt: env.Attempt, Data: d}
	return nil
}

// Decode reads one event from untrusted bytes (a line of the built-in
// agent's stream, a client's input), refusing lines over MaxLine.
func Decode(line []byte) (Event, error) {
	line = bytes.TrimSpace(line)
	if len(line) > MaxLine {
		return Event{}, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(line), MaxLine)
	}
	var e Event
	err := e.UnmarshalJSON(line)
	return e, err
}

// decodeFunc decodes the fields of one event type.
type decodeFunc func(fields json.RawMessage) (Data, error)

// decoderOf is the type and decoder of payload T.
func decoderOf[T Data]() (Type, decodeFunc) {
	var zero T
	return zero.EventType(), func(fields json.RawMessage) (Data, error) {
		var v T
		if len(fields) > 0 {
			if err := json.Unmarshal(fields, &v); err != nil {
				return nil, err
			}
		}
		return v, nil
	}
}

func registryOf(entries ...func() (Type, decodeFunc)) map[Type]decodeFunc {
	m := make(map[Type]decodeFunc, len(entries))
	for _, e := range entries {
		t, f := e()
		m[t] = f
	}
	return m
}

// registry holds every event type this package defines.
var registry = registryOf(
	decoderOf[RunStarted], decoderOf[RunFinished],
	decoderOf[StageQueued], decoderOf[StageStarted], decoderOf[StageRetrying],
	decoderOf[StageSucceeded], decoderOf[StageFailed], decoderOf[StageSkipped], decoderOf[StageCancelled],
	decoderOf[VMBooted], decoderOf[ExecOutput], decoderOf[ExecDenied],
	decoderOf[VMQueued], decoderOf[VMAdmitted], decoderOf[VMBooted], decoderOf[ExecOutput], decoderOf[VMStats],
	decoderOf[AgentStarted], decoderOf[AgentTurn], decoderOf[AgentToolCall], decoderOf[AgentDenied],
	decoderOf[AgentFinished], decoderOf[LLMRequest], decoderOf[SkillFetched],
	decoderOf[NetAllowed], decoderOf[NetDenied],
	decoderOf[ServiceReady], decoderOf[ServiceStopped],
)

// Types lists every event type (for docs and schema checks).
func Types() []Type {
	out := make([]Type, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	return out
}
