package deb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// arReader reads the common ar(1) format that .deb files use (see deb(5)): an 8-byte magic, then
// members each with a 60-byte text header, data padded to an even length.
type arReader struct {
	r      *bufio.Reader
	remain int64 // unread data bytes of the current member
	pad    int64 // padding byte after the current member
}

const arMagic = "!<arch>\n"

func newArReader(r io.Reader) (*arReader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != arMagic {
		return nil, errors.New("not an ar archive (bad magic)")
	}
	return &arReader{r: br}, nil
}

// Next skips the rest of the current member and returns the next member's name and size. It returns
// io.EOF after the last member.
func (a *arReader) Next() (name string, size int64, err error) {
	if _, err := io.CopyN(io.Discard, a.r, a.remain+a.pad); err != nil {
		return "", 0, fmt.Errorf("skipping ar member: %w", err)
	}
	var hdr [60]byte
	n, err := io.ReadFull(a.r, hdr[:])
	if n == 0 && err == io.EOF {
		return "", 0, io.EOF
	}
	if err != nil {
		return "", 0, fmt.Errorf("reading ar header: %w", err)
	}
	if string(hdr[58:60]) != "`\n" {
		return "", 0, errors.New("corrupt ar header")
	}
	size, err = strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
	if err != nil || size < 0 {
		return "", 0, fmt.Errorf("corrupt ar member size %q", hdr[48:58])
	}
	// GNU ar ends names with '/'; dpkg pads them with spaces.
	name = strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
	a.remain, a.pad = size, size%2
	return name, size, nil
}

// Read reads the current member's data.
func (a *arReader) Read(p []byte) (int, error) {
	if a.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > a.remain {
		p = p[:a.remain]
	}
	n, err := a.r.Read(p)
	a.remain -= int64(n)
	if err == io.EOF && a.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
