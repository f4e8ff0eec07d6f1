package store

import (
	"context"
	"errors"
)

// Temporary until the fs and valkey stores land (next commits).
func OpenFS(ctx context.Context, dir string) (Store, error) { return nil, errors.New("fs store: not yet") }
func OpenValkey(ctx context.Context, c ValkeyConfig) (Store, error) {
	return nil, errors.New("valkey store: not yet")
}
