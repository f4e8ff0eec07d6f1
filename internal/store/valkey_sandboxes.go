package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/valkey-io/valkey-go"
)

// CreateSandbox implements Sandboxes.
func (v *Valkey) CreateSandbox(ctx context.Context, config []byte) (Sandbox, error) {
	if err := checkSandboxConfig(config); err != nil {
		return Sandbox{}, err
	}
	if err := v.check(); err != nil {
		return Sandbox{}, err
	}
	now := time.Now().UTC()
	sb := Sandbox{ID: v.ids.next(now), Config: config, Created: now, LastUsed: now}
	for _, r := range v.c.DoMulti(ctx,
		v.c.B().Multi().Build(),
		v.c.B().Hset().Key(v.k("sb", sb.ID)).FieldValue().FieldValue("config", valkey.BinaryString(config)).
			FieldValue("created", itoa(nanos(now))).FieldValue("used", itoa(nanos(now))).Build(),
		v.c.B().Zadd().Key(v.k("sandboxes")).ScoreMember().ScoreMember(0, sb.ID).Build(),
		v.c.B().Exec().Build()) {
		if err := r.Error(); err != nil {
			return Sandbox{}, fmt.Errorf("creating sandbox: %w", err)
		}
	}
	return sb, nil
}

// GetSandbox implements Sandboxes.
func (v *Valkey) GetSandbox(ctx context.Context, id string) (Sandbox, error) {
	if err := v.check(); err != nil {
		return Sandbox{}, err
	}
	if !ValidID(id) {
		return Sandbox{}, fmt.Errorf("sandbox %q: %w", id, ErrNotFound)
	}
	m, err := v.c.Do(ctx, v.c.B().Hgetall().Key(v.k("sb", id)).Build()).AsStrMap()
	if err != nil {
		return Sandbox{}, fmt.Errorf("sandbox %s: %w", id, err)
	}
	if len(m) == 0 {
		return Sandbox{}, fmt.Errorf("sandbox %s: %w", id, ErrNotFound)
	}
	return Sandbox{ID: id, Config: []byte(m["config"]), Created: fromNanos(atoi(m["created"])),
		LastUsed: fromNanos(atoi(m["used"]))}, nil
}

// ListSandboxes implements Sandboxes.
func (v *Valkey) ListSandboxes(ctx context.Context) ([]Sandbox, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	ids, err := v.c.Do(ctx, v.c.B().Zrangebylex().Key(v.k("sandboxes")).Min("-").Max("+").Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	var out []Sandbox
	for _, id := range ids {
		sb, err := v.GetSandbox(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sb)
	}
	return out, nil
}

// TouchSandbox implements Sandboxes.
func (v *Valkey) TouchSandbox(ctx context.Context, id string, at time.Time) error {
	if err := v.check(); err != nil {
		return err
	}
	if !ValidID(id) {
		return fmt.Errorf("sandbox %q: %w", id, ErrNotFound)
	}
	_, err := result(scriptTouch.Exec(ctx, v.c, []string{v.k("sb", id)}, []string{itoa(nanos(at.UTC()))}), "sandbox "+id)
	return err
}

// DeleteSandbox implements Sandboxes.
func (v *Valkey) DeleteSandbox(ctx context.Context, id string) error {
	if err := v.check(); err != nil {
		return err
	}
	if !ValidID(id) {
		return fmt.Errorf("sandbox %q: %w", id, ErrNotFound)
	}
	_, err := result(scriptDeleteSandbox.Exec(ctx, v.c, []string{v.k("sb", id), v.k("sandboxes")}, []string{id}), "sandbox "+id)
	return err
}
