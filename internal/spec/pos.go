package spec

import "fmt"

// Pos is a place in a spec file. Line and Col are 1-based; zero means the
// place is unknown (or, for a default, that nothing was written).
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats p as "file:line:col", dropping the parts that are unknown.
func (p Pos) String() string {
	switch {
	case p.Line <= 0:
		return p.File
	case p.Col <= 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// IsValid reports whether p names a line.
func (p Pos) IsValid() bool { return p.Line > 0 }
