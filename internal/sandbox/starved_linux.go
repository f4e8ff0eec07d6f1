package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// threadWaits returns, per thread of process pid, how long it has waited on
// a run queue (schedstat(5)'s second field). ok is false when nothing can be
// read (no such process, no schedstats).
func threadWaits(pid int) (map[string]time.Duration, bool) {
	if pid <= 0 {
		return nil, false
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	waits := make(map[string]time.Duration, len(tasks))
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		if w, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			waits[t.Name()] = time.Duration(w)
		}
	}
	return waits, len(waits) > 0
}
