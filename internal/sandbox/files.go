package sandbox

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
)

// FileInfo describes a guest path.
type FileInfo struct {
	Size    int64
	Mode    fs.FileMode
	ModTime time.Time
}

// IsDir reports whether the path is a directory.
func (f FileInfo) IsDir() bool { return f.Mode.IsDir() }

// WriteFile writes data to an absolute guest path, creating parent
// directories. The file belongs to the sandbox user, and the write is done
// with that user's permissions.
func (s *Sandbox) WriteFile(ctx context.Context, path string, data []byte, perm fs.FileMode) error {
	return s.WriteFileFrom(ctx, path, bytes.NewReader(data), perm)
}

// WriteFileFrom is WriteFile streaming from r.
func (s *Sandbox) WriteFileFrom(ctx context.Context, path string, r io.Reader, perm fs.FileMode) error {
	err := s.client.WriteFile(ctx, wire.WriteFile{Path: path, Mode: uint32(perm.Perm()), Parents: true}, r)
	return s.wrap("write "+path, err)
}

// DefaultReadLimit is how many bytes ReadFile accepts.
const DefaultReadLimit = 64 << 20

// ReadFile reads a guest file of at most DefaultReadLimit bytes.
func (s *Sandbox) ReadFile(ctx context.Context, path string) ([]byte, error) {
	var b bytes.Buffer
	err := s.ReadFileTo(ctx, path, DefaultReadLimit, &b)
	return b.Bytes(), err
}

// ReadFileTo streams a guest file into w, failing with ErrTooLarge if it is
// larger than maxBytes.
func (s *Sandbox) ReadFileTo(ctx context.Context, path string, maxBytes int64, w io.Writer) error {
	_, err := s.client.ReadFile(ctx, path, maxBytes, w)
	return s.wrap("read "+path, err)
}

// Stat describes a guest path; ok is false if it does not exist.
func (s *Sandbox) Stat(ctx context.Context, path string) (fi FileInfo, ok bool, err error) {
	w, err := s.client.Stat(ctx, path)
	if err != nil {
		return FileInfo{}, false, s.wrap("stat "+path, err)
	}
	if !w.Exists {
		return FileInfo{}, false, nil
	}
	return FileInfo{Size: w.Size, Mode: fs.FileMode(w.Mode), ModTime: time.Unix(w.ModUnix, 0)}, true, nil
}

// Mkdir creates a guest directory and its parents, owned by the sandbox user.
func (s *Sandbox) Mkdir(ctx context.Context, path string, perm fs.FileMode) error {
	return s.wrap("mkdir "+path, s.client.Mkdir(ctx, wire.Mkdir{Path: path, Mode: uint32(perm.Perm()), Parents: true}))
}

// Mount attaches a host share (Config.Shares) at a guest path.
func (s *Sandbox) Mount(ctx context.Context, tag, path string, readOnly bool) error {
	return s.wrap("mount "+path, s.client.Mount(ctx, wire.Mount{Tag: tag, Path: path, ReadOnly: readOnly}))
}

// WriteRootFile writes a root-owned file (provisioning by the host: the
// sandbox user can read it, not change it).
func (s *Sandbox) WriteRootFile(ctx context.Context, path string, data []byte, perm fs.FileMode) error {
	err := s.client.WriteFile(ctx, wire.WriteFile{Path: path, Mode: uint32(perm.Perm()), Parents: true, Root: true}, bytes.NewReader(data))
	return s.wrap("write "+path, err)
}
