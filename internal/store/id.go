package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// idEncoding is base32hex in lower case: its alphabet is in ASCII order, so
// ids sort as their bytes do, and they are safe as file names.
var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// idLen is the length of an encoded 16-byte id.
const idLen = 26

// idGen makes ids that sort by creation: 6 bytes of Unix milliseconds, then
// 10 random bytes. Within one generator ids strictly increase (a later id in
// the same millisecond is the previous one plus one), which ListRuns' order
// and cursors rely on.
type idGen struct {
	mu   sync.Mutex
	last [16]byte // guarded by mu
}

func (g *idGen) next(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	rand.Read(b[6:])
	g.mu.Lock()
	if string(b[:]) <= string(g.last[:]) {
		b = g.last
		for i := 15; i >= 0; i-- { // add one, carrying
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	}
	g.last = b
	g.mu.Unlock()
	return idEncoding.EncodeToString(b[:])
}

// ValidID reports whether s has the form of a store id. Every id a caller
// passes in is checked first, so the fs store can use them as file names.
func ValidID(s string) bool {
	if len(s) != idLen || strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'v')
	}) {
		return false
	}
	// 26 characters hold 130 bits: only the canonical encoding of 16 bytes
	// (last two bits zero) is an id, so each id has one spelling.
	b, err := idEncoding.DecodeString(s)
	return err == nil && len(b) == 16 && idEncoding.EncodeToString(b) == s
}
