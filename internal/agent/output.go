package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// fileState is what statOutput remembers of the output file, to tell
// whether the agent wrote it during the run.
type fileState struct {
	exists  bool
	info    os.FileInfo
	size    int64
	modTime time.Time
}

func statOutput(path string) fileState {
	info, err := os.Stat(path)
	if err != nil {
		return fileState{}
	}
	return fileState{exists: true, info: info, size: info.Size(), modTime: info.ModTime()}
}

// changedSince reports whether the file was created, replaced or modified.
func (s fileState) changedSince(before fileState) bool {
	switch {
	case !s.exists:
		return false
	case !before.exists:
		return true
	}
	return !os.SameFile(s.info, before.info) || s.size != before.size || !s.modTime.Equal(before.modTime)
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
