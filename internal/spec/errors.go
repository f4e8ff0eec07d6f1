package spec

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid matches (with errors.Is) every problem Parse finds in a spec,
// as opposed to an I/O error reading it.
var ErrInvalid = errors.New("invalid spec")

// Error is one problem in a spec, with where it is. Parse returns all the
// problems it found as an errors.Join of *Error values, sorted by position,
// whose text is one line per problem:
//
//	pipeline.yaml:14:5: pipeline.stages[2].fan_out[1]: unknown box "x" (defined: a, b)
type Error struct {
	File string
	Line int // 1-based; 0 when the problem concerns the whole file
	Col  int // 1-based; 0 when unknown
	// Path is the dotted path of the offending value in the document, such
	// as "pipeline.boxes[1].sandbox.memory_mb"; empty for the document itself.
	Path string
	Msg  string
}

// Error formats e as "file:line:col: path: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(Pos{File: e.File, Line: e.Line, Col: e.Col}.String())
	if e.Path != "" {
		b.WriteString(": ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes every *Error match ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Pos returns where the problem is.
func (e *Error) Pos() Pos { return Pos{File: e.File, Line: e.Line, Col: e.Col} }

// maxProblems bounds how many problems one Parse reports, so that a
// pathological input cannot make the error itself huge.
const maxProblems = 100

// problems collects the errors of one Parse.
type problems struct {
	file    string
	list    []*Error
	dropped int
}

// add records a problem. Messages are kept to one line so that the joined
// error stays one line per problem.
func (p *problems) add(line, col int, path, msg string) {
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	msg = strings.Join(strings.Fields(msg), " ")
	p.list = append(p.list, &Error{File: p.file, Line: line, Col: col, Path: path, Msg: msg})
}

// err returns nil when nothing was recorded, otherwise the problems sorted by
// position and joined.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := slices.Clone(p.list)
	slices.SortStableFunc(list, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	errs := make([]error, 0, len(list)+1)
	for _, e := range list {
		errs = append(errs, e)
	}
	if p.dropped > 0 {
		errs = append(errs, &Error{File: p.file, Msg: fmt.Sprintf("%d more problems not shown", p.dropped)})
	}
	return errors.Join(errs...)
}
