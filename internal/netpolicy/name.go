package netpolicy

import (
	"errors"
	"strings"
)

// NormalizeName lower-cases name, drops one trailing dot and checks that it
// is a DNS host name: 1–63 byte labels of letters, digits, '-' and '_' (no
// label starting or ending with '-'), 253 bytes at most, and a last label that
// is not all digits (that is a mistyped IP address, not a name).
func NormalizeName(name string) (string, error) {
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return "", errors.New("empty name")
	}
	if len(name) > 253 {
		return "", errors.New("name longer than 253 bytes")
	}
	b := []byte(name)
	labelStart := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != '.' {
			c := b[i]
			switch {
			case 'A' <= c && c <= 'Z':
				b[i] = c + ('a' - 'A')
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			default:
				return "", errors.New("invalid character in name")
			}
			continue
		}
		label := b[labelStart:i]
		switch {
		case len(label) == 0:
			return "", errors.New("empty label in name")
		case len(label) > 63:
			return "", errors.New("label longer than 63 bytes")
		case label[0] == '-' || label[len(label)-1] == '-':
			return "", errors.New("label starts or ends with '-'")
		}
		labelStart = i + 1
	}
	last := b[strings.LastIndexByte(string(b), '.')+1:]
	if allDigits(last) {
		return "", errors.New("not a valid IP address or name")
	}
	return string(b), nil
}

func allDigits(s []byte) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(s) > 0
}
