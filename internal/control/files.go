package control

import (
	"context"
	"fmt"
	"io"

	"github.com/voidbox/voidbox/internal/wire"
)

// WriteFile streams r into a guest file.
func (c *Client) WriteFile(ctx context.Context, req wire.WriteFile, r io.Reader) error {
	st, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := wire.WriteJSON(st, wire.TWriteFile, req); err != nil {
		return ctxErr(ctx, err)
	}
	buf := make([]byte, wire.ChunkSize)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := wire.WriteFrame(st, wire.TFileData, buf[:n]); err != nil {
				return ctxErr(ctx, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("reading source: %w", rerr)
		}
	}
	if err := wire.WriteFrame(st, wire.TFileEnd, nil); err != nil {
		return ctxErr(ctx, err)
	}
	_, err = wire.NewReader(st, 0).Expect(wire.TOK)
	return ctxErr(ctx, err)
}

// ReadFile streams a guest file into w. The guest refuses files larger than
// maxBytes, and the host stops reading past it whatever the guest claims.
func (c *Client) ReadFile(ctx context.Context, path string, maxBytes int64, w io.Writer) (wire.FileInfo, error) {
	st, done, err := c.open(ctx)
	if err != nil {
		return wire.FileInfo{}, err
	}
	defer done()
	if err := wire.WriteJSON(st, wire.TReadFile, wire.ReadFile{Path: path, MaxBytes: maxBytes}); err != nil {
		return wire.FileInfo{}, ctxErr(ctx, err)
	}
	r := wire.NewReader(st, 0)
	f, err := r.Expect(wire.TFileInfo)
	if err != nil {
		return wire.FileInfo{}, ctxErr(ctx, err)
	}
	var fi wire.FileInfo
	if err := f.Decode(&fi); err != nil {
		return fi, err
	}
	var got int64
	for {
		f, err := r.Expect(wire.TFileData, wire.TFileEnd)
		if err != nil {
			return fi, ctxErr(ctx, err)
		}
		if f.Type == wire.TFileEnd {
			return fi, nil
		}
		got += int64(len(f.Payload))
		if maxBytes > 0 && got > maxBytes {
			return fi, &wire.Error{Code: wire.CodeTooLarge, Message: fmt.Sprintf("%s: more than %d bytes", path, maxBytes)}
		}
		if _, err := w.Write(f.Payload); err != nil {
			return fi, err
		}
	}
}

// Stat describes a guest path; a missing path is FileInfo{Exists: false}, not an error.
func (c *Client) Stat(ctx context.Context, path string) (wire.FileInfo, error) {
	st, done, err := c.open(ctx)
	if err != nil {
		return wire.FileInfo{}, err
	}
	defer done()
	if err := wire.WriteJSON(st, wire.TStat, wire.PathRequest{Path: path}); err != nil {
		return wire.FileInfo{}, ctxErr(ctx, err)
	}
	f, err := wire.NewReader(st, 0).Expect(wire.TStatResult)
	if err != nil {
		return wire.FileInfo{}, ctxErr(ctx, err)
	}
	var fi wire.FileInfo
	return fi, f.Decode(&fi)
}

// Mkdir creates a guest directory.
func (c *Client) Mkdir(ctx context.Context, req wire.Mkdir) error {
	st, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := wire.WriteJSON(st, wire.TMkdir, req); err != nil {
		return ctxErr(ctx, err)
	}
	_, err = wire.NewReader(st, 0).Expect(wire.TOK)
	return ctxErr(ctx, err)
}

// Mount attaches a host share in the guest.
func (c *Client) Mount(ctx context.Context, req wire.Mount) error {
	st, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := wire.WriteJSON(st, wire.TMount, req); err != nil {
		return ctxErr(ctx, err)
	}
	_, err = wire.NewReader(st, 0).Expect(wire.TOK)
	return ctxErr(ctx, err)
}
