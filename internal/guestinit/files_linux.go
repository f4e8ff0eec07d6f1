package guestinit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

func handleWriteFile(st net.Conn, r *wire.Reader, f wire.Frame, v view) {
	var req wire.WriteFile
	if err := f.Decode(&req); err != nil || !filepath.IsAbs(req.Path) {
		sendError(st, wire.CodeInvalid, "write-file: path must be absolute")
		return
	}
	mode := fs.FileMode(req.Mode & 0o7777)
	if mode == 0 {
		mode = 0o644
	}
	// Receive into memory-bounded chunks straight to the file.
	err := v.as(req.Root, func() error {
		if req.Parents {
			if err := os.MkdirAll(filepath.Dir(req.Path), 0o755); err != nil {
				return err
			}
		}
		out, err := os.OpenFile(req.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, mode)
		if err != nil {
			return err
		}
		werr := receiveFile(r, out)
		if cerr := out.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(req.Path, mode) // umask-independent
		}
		return werr
	})
	replyErr(st, err)
}

func receiveFile(r *wire.Reader, w io.Writer) error {
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return fmt.Errorf("receiving file data: %w", err)
		}
		switch f.Type {
		case wire.TFileData:
			if _, err := w.Write(f.Payload); err != nil {
				return err
			}
		case wire.TFileEnd:
			return nil
		default:
			return fmt.Errorf("unexpected %s frame in file data", f.Type)
		}
	}
}

func handleReadFile(st net.Conn, f wire.Frame, v view) {
	var req wire.ReadFile
	if err := f.Decode(&req); err != nil || !filepath.IsAbs(req.Path) {
		sendError(st, wire.CodeInvalid, "read-file: path must be absolute")
		return
	}
	var in *os.File
	var fi os.FileInfo
	err := v.as(false, func() error {
		var err error
		in, err = os.Open(req.Path)
		if err != nil {
			return err
		}
		fi, err = in.Stat()
		return err
	})
	if err != nil {
		if in != nil {
			in.Close()
		}
		replyErr(st, err)
		return
	}
	defer in.Close()
	if fi.IsDir() {
		sendError(st, wire.CodeInvalid, req.Path+": is a directory")
		return
	}
	if req.MaxBytes > 0 && fi.Size() > req.MaxBytes {
		sendError(st, wire.CodeTooLarge, fmt.Sprintf("%s: %d bytes exceeds the %d-byte limit", req.Path, fi.Size(), req.MaxBytes))
		return
	}
	_ = wire.WriteJSON(st, wire.TFileInfo, toInfo(fi))
	buf := make([]byte, wire.ChunkSize)
	var sent int64
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if req.MaxBytes > 0 && sent+int64(n) > req.MaxBytes {
				sendError(st, wire.CodeTooLarge, req.Path+": file grew past the limit while reading")
				return
			}
			if wire.WriteFrame(st, wire.TFileData, buf[:n]) != nil {
				return
			}
			sent += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			sendError(st, wire.CodeInternal, err.Error())
			return
		}
	}
	_ = wire.WriteFrame(st, wire.TFileEnd, nil)
}

func handleStat(st net.Conn, f wire.Frame, v view) {
	var req wire.PathRequest
	if err := f.Decode(&req); err != nil || !filepath.IsAbs(req.Path) {
		sendError(st, wire.CodeInvalid, "stat: path must be absolute")
		return
	}
	var fi os.FileInfo
	err := v.as(false, func() (err error) { fi, err = os.Stat(req.Path); return })
	switch {
	case errors.Is(err, os.ErrNotExist):
		_ = wire.WriteJSON(st, wire.TStatResult, wire.FileInfo{Exists: false})
	case err != nil:
		replyErr(st, err)
	default:
		_ = wire.WriteJSON(st, wire.TStatResult, toInfo(fi))
	}
}

func handleMkdir(st net.Conn, f wire.Frame, v view) {
	var req wire.Mkdir
	if err := f.Decode(&req); err != nil || !filepath.IsAbs(req.Path) {
		sendError(st, wire.CodeInvalid, "mkdir: path must be absolute")
		return
	}
	mode := fs.FileMode(req.Mode & 0o7777)
	if mode == 0 {
		mode = 0o755
	}
	err := v.as(req.Root, func() error {
		if req.Parents {
			return os.MkdirAll(req.Path, mode)
		}
		return os.Mkdir(req.Path, mode)
	})
	replyErr(st, err)
}

func toInfo(fi os.FileInfo) wire.FileInfo {
	return wire.FileInfo{Exists: true, Size: fi.Size(), Mode: uint32(fi.Mode()), IsDir: fi.IsDir(), ModUnix: fi.ModTime().Unix()}
}

// replyErr sends TOK for a nil error, else an Error with a category code.
func replyErr(w io.Writer, err error) {
	if err == nil {
		_ = wire.WriteFrame(w, wire.TOK, nil)
		return
	}
	code := wire.CodeInternal
	switch {
	case errors.Is(err, os.ErrNotExist):
		code = wire.CodeNotFound
	case errors.Is(err, os.ErrPermission), errors.Is(err, unix.ELOOP):
		code = wire.CodePermission
	case errors.Is(err, os.ErrExist):
		code = wire.CodeExists
	}
	sendError(w, code, err.Error())
}
