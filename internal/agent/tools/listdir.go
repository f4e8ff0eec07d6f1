package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// listLimit caps the entries list_dir returns.
const listLimit = 1000

const listSchema = `{"type":"object","properties":{` +
	`"path":{"type":"string","description":"Directory, absolute or relative to the workspace (default: the workspace)."}}}`

// ListDir returns the list_dir tool.
func ListDir(env Env) Tool {
	return Tool{
		Name:        "list_dir",
		Description: "List a directory: one entry per line, directories end with /, files show their size in bytes, symlinks their target.",
		Schema:      json.RawMessage(listSchema),
		Call: func(ctx context.Context, input json.RawMessage) Result {
			var in struct {
				Path string `json:"path"`
			}
			if err := decode(input, &in); err != nil {
				return Errorf("%v", err)
			}
			if in.Path == "" {
				in.Path = "."
			}
			dir := env.resolve(in.Path)
			entries, err := os.ReadDir(dir)
			if err != nil {
				return Errorf("listing %s: %v", in.Path, unwrapPath(err))
			}
			var b strings.Builder
			for i, e := range entries {
				if i == listLimit {
					fmt.Fprintf(&b, "[%d more entries not shown]\n", len(entries)-listLimit)
					break
				}
				b.WriteString(describe(dir, e))
				b.WriteByte('\n')
			}
			if len(entries) == 0 {
				b.WriteString("(empty directory)\n")
			}
			return Result{Content: b.String()}
		},
	}
}

// describe renders one directory entry.
func describe(dir string, e os.DirEntry) string {
	switch {
	case e.IsDir():
		return e.Name() + "/"
	case e.Type()&os.ModeSymlink != 0:
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			return e.Name() + " -> ?"
		}
		return e.Name() + " -> " + target
	}
	info, err := e.Info()
	if err != nil {
		return e.Name()
	}
	return fmt.Sprintf("%s\t%d", e.Name(), info.Size())
}
