package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Limits of the file tools.
const (
	// readLimit caps the bytes read_file returns in one call.
	readLimit = 64 << 10
	// defaultReadLines is read_file's default line count.
	defaultReadLines = 2000
)

// resolve makes a path relative to the workspace absolute.
func (e Env) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(e.Workspace, p)
}

const readSchema = `{"type":"object","properties":{` +
	`"path":{"type":"string","description":"File path, absolute or relative to the workspace."},` +
	`"offset":{"type":"integer","description":"First line to return, 1-based (default 1)."},` +
	`"limit":{"type":"integer","description":"Number of lines to return (default 2000)."}},"required":["path"]}`

// ReadFile returns the read_file tool.
func ReadFile(env Env) Tool {
	return Tool{
		Name:        "read_file",
		Description: "Read a text file. Returns up to `limit` lines starting at line `offset`, at most 64 KiB; the answer says when there is more.",
		Schema:      json.RawMessage(readSchema),
		Call: func(ctx context.Context, input json.RawMessage) Result {
			var in struct {
				Path   string `json:"path"`
				Offset int    `json:"offset"`
				Limit  int    `json:"limit"`
			}
			if err := decode(input, &in); err != nil {
				return Errorf("%v", err)
			}
			if in.Path == "" {
				return Errorf("path is required")
			}
			data, err := os.ReadFile(env.resolve(in.Path))
			if err != nil {
				return Errorf("reading %s: %v", in.Path, unwrapPath(err))
			}
			if bytes.IndexByte(data, 0) >= 0 {
				return Result{Content: fmt.Sprintf("%s is a binary file of %d bytes; not shown.", in.Path, len(data))}
			}
			return Result{Content: lines(string(data), in.Offset, in.Limit)}
		},
	}
}

// lines returns limit lines of s from the 1-based line offset, capped at
// readLimit bytes, with a note when the file goes on.
func lines(s string, offset, limit int) string {
	if offset < 1 {
		offset = 1
	}
	if limit < 1 {
		limit = defaultReadLines
	}
	all := strings.SplitAfter(s, "\n")
	if all[len(all)-1] == "" {
		all = all[:len(all)-1]
	}
	if offset > len(all) {
		return fmt.Sprintf("(the file has %d lines; nothing at line %d)", len(all), offset)
	}
	var b strings.Builder
	end := offset - 1
	for end < len(all) && end < offset-1+limit && b.Len()+len(all[end]) <= readLimit {
		b.WriteString(all[end])
		end++
	}
	if end == offset-1 { // one line longer than readLimit
		b.WriteString(all[end][:readLimit])
		fmt.Fprintf(&b, "\n[line %d is longer than %d bytes; cut]\n", end+1, readLimit)
		end++
	}
	if end < len(all) {
		fmt.Fprintf(&b, "\n[lines %d-%d of %d shown; continue with offset %d]\n", offset, end, len(all), end+1)
	}
	if b.Len() == 0 {
		return "(empty file)"
	}
	return b.String()
}

const writeSchema = `{"type":"object","properties":{` +
	`"path":{"type":"string","description":"File path, absolute or relative to the workspace."},` +
	`"content":{"type":"string","description":"The complete new content of the file."}},"required":["path","content"]}`

// WriteFile returns the write_file tool.
func WriteFile(env Env) Tool {
	return Tool{
		Name:        "write_file",
		Description: "Create or overwrite a file with the given content, creating parent directories as needed.",
		Schema:      json.RawMessage(writeSchema),
		Call: func(ctx context.Context, input json.RawMessage) Result {
			var in struct {
				Path    string  `json:"path"`
				Content *string `json:"content"`
			}
			if err := decode(input, &in); err != nil {
				return Errorf("%v", err)
			}
			if in.Path == "" || in.Content == nil {
				return Errorf("path and content are required")
			}
			p := env.resolve(in.Path)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return Errorf("creating the directory of %s: %v", in.Path, unwrapPath(err))
			}
			if err := os.WriteFile(p, []byte(*in.Content), 0o644); err != nil {
				return Errorf("writing %s: %v", in.Path, unwrapPath(err))
			}
			return Result{Content: fmt.Sprintf("wrote %d bytes to %s", len(*in.Content), in.Path)}
		},
	}
}

const editSchema = `{"type":"object","properties":{` +
	`"path":{"type":"string","description":"File path, absolute or relative to the workspace."},` +
	`"old_string":{"type":"string","description":"Exact text to replace; it must occur exactly once in the file."},` +
	`"new_string":{"type":"string","description":"Replacement text."}},"required":["path","old_string","new_string"]}`

// EditFile returns the edit_file tool.
func EditFile(env Env) Tool {
	return Tool{
		Name: "edit_file",
		Description: "Replace one exact occurrence of old_string with new_string in a file. " +
			"old_string must match the file byte for byte (whitespace included) and occur exactly once; include surrounding lines to make it unique.",
		Schema: json.RawMessage(editSchema),
		Call: func(ctx context.Context, input json.RawMessage) Result {
			var in struct {
				Path      string  `json:"path"`
				OldString string  `json:"old_string"`
				NewString *string `json:"new_string"`
			}
			if err := decode(input, &in); err != nil {
				return Errorf("%v", err)
			}
			if in.Path == "" || in.NewString == nil {
				return Errorf("path, old_string and new_string are required")
			}
			if in.OldString == "" {
				return Errorf("old_string is empty; use write_file to create a file")
			}
			if in.OldString == *in.NewString {
				return Errorf("old_string and new_string are the same")
			}
			p := env.resolve(in.Path)
			info, err := os.Stat(p)
			if err != nil {
				return Errorf("editing %s: %v", in.Path, unwrapPath(err))
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return Errorf("reading %s: %v", in.Path, unwrapPath(err))
			}
			switch n := strings.Count(string(data), in.OldString); n {
			case 0:
				return Errorf("old_string not found in %s", in.Path)
			case 1:
			default:
				return Errorf("old_string occurs %d times in %s; include more context to make it unique", n, in.Path)
			}
			out := strings.Replace(string(data), in.OldString, *in.NewString, 1)
			if err := os.WriteFile(p, []byte(out), info.Mode().Perm()); err != nil {
				return Errorf("writing %s: %v", in.Path, unwrapPath(err))
			}
			return Result{Content: fmt.Sprintf("replaced 1 occurrence in %s", in.Path)}
		},
	}
}

// unwrapPath drops the *PathError wrapper, whose path the message already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
