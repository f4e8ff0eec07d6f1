package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// starvedTime is how long the busiest thread of process pid (a booting
// guest's vCPU) has waited on a run queue, from schedstat(5)'s second
// field. ok is false when it cannot be read (no process, no schedstats).
func starvedTime(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return 0, false
	}
	var busiest, wait int64
	found := false
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", t.Name(), "schedstat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		run, err1 := strconv.ParseInt(f[0], 10, 64)
		w, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if !found || run > busiest {
			busiest, wait, found = run, w, true
		}
	}
	return time.Duration(wait), found
}
