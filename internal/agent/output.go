package agent

import (
	"fmt"
	"os"
	"path/filepath"
)

// fileState is what statOutput remembers of the output file, to tell
// whether the agent wrote it during the run.
type fileState struct {
	info os.FileInfo // nil when the file does not exist
}

func statOutput(path string) fileState {
	info, err := os.Stat(path)
	if err != nil {
		return fileState{}
	}
	return fileState{info: info}
}

// changedSince reports whether the file was created, replaced or modified.
func (s fileState) changedSince(before fileState) bool {
	switch {
	case s.info == nil:
		return false
	case before.info == nil:
		return true
	}
	return !os.SameFile(s.info, before.info) || s.info.Size() != before.info.Size() || !s.info.ModTime().Equal(before.info.ModTime())
}

// writeOutput saves the final answer.
func writeOutput(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}
