package store

import (
	"context"
	"errors"
)

// Temporary until the valkey store lands (next commit).
func OpenValkey(ctx context.Context, c ValkeyConfig) (Store, error) {
	return nil, errors.New("valkey store: not yet")
}
