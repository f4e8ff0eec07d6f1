package guestimage

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
)

// digestMemo remembers the digests of set-up's inputs that live outside
// the cache (the guest init, the agent binary) by what a stat says of them:
// size, modification and change time, inode and device. A start looks its
// inputs up here instead of hashing megabytes each time; only set-up, under
// the cache lock, hashes and records (digests.json).
type digestMemo struct {
	mu      sync.Mutex
	entries map[string]memoEntry // guarded by mu; by absolute path
	record  bool                 // Ensure: hash every input and record it
	dirty   bool                 // guarded by mu
}

type memoEntry struct {
	Key    fileKey `json:"key"`
	Digest string  `json:"sha256"`
}

// fileKey is what changes when a file's content can have changed.
type fileKey struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	Ctime   int64  `json:"ctime_ns"`
	Inode   uint64 `json:"inode"`
	Dev     uint64 `json:"dev"`
}

func keyOf(fi os.FileInfo) fileKey {
	k := fileKey{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
	addStatKey(&k, fi)
	return k
}

func loadMemo(root string, record bool) *digestMemo {
	m := &digestMemo{entries: map[string]memoEntry{}, record: record}
	if b, err := os.ReadFile(filepath.Join(root, "digests.json")); err == nil {
		_ = json.Unmarshal(b, &m.entries) // a damaged memo only costs hashing
	}
	return m
}

// digest returns p's sha256: from the memo when p's key is unchanged and
// this is a lookup, else by reading p (and, for set-up, recording it).
func (m *digestMemo) digest(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	key := keyOf(fi)
	m.mu.Lock()
	e, ok := m.entries[p]
	m.mu.Unlock()
	if ok && e.Key == key && !m.record {
		return e.Digest, nil
	}
	d, err := FileDigest(p)
	if err != nil {
		return "", err
	}
	if after, err := os.Stat(p); err != nil || keyOf(after) != key {
		return d, nil // changed while read: do not remember
	}
	if m.record && (!ok || e.Key != key || e.Digest != d) {
		m.mu.Lock()
		m.entries[p], m.dirty = memoEntry{Key: key, Digest: d}, true
		m.mu.Unlock()
	}
	return d, nil
}

// save writes the memo, forgetting files that are gone. Precondition: the
// cache lock is held.
func (m *digestMemo) save(root, tmp string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := range m.entries {
		if _, err := os.Stat(p); err != nil {
			delete(m.entries, p)
			m.dirty = true
		}
	}
	if !m.dirty {
		return nil
	}
	b, err := json.MarshalIndent(m.entries, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(tmp, filepath.Join(root, "digests.json"), append(b, '\n'), 0o644)
}

type memoKey struct{}

// InputDigest is the sha256 of an input file outside the cache, as a
// Layer's Key computes it: memoised by the Lookup or Ensure whose ctx this
// is (a start does not re-read an unchanged file), read in full otherwise.
func InputDigest(ctx context.Context, p string) (string, error) {
	if m, ok := ctx.Value(memoKey{}).(*digestMemo); ok {
		return m.digest(p)
	}
	return FileDigest(p)
}

func withMemo(ctx context.Context, m *digestMemo) context.Context {
	return context.WithValue(ctx, memoKey{}, m)
}
