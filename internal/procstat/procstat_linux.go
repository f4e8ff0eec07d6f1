package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports (sysconf(_SC_CLK_TCK) would need cgo).
const clockTick = 10 * time.Millisecond

// Read samples process pid.
func Read(pid int) (Sample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Sample{}, err
	}
	cpu, err := parseStat(stat)
	if err != nil {
		return Sample{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	statm, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return Sample{}, err
	}
	pages, err := parseStatm(statm)
	if err != nil {
		return Sample{}, fmt.Errorf("/proc/%d/statm: %w", pid, err)
	}
	return Sample{CPU: cpu, RSS: pages * int64(os.Getpagesize())}, nil
}

// parseStat returns utime+stime from a /proc/PID/stat line. The command
// name (field 2) is in parentheses and may hold spaces or parentheses
// itself, so fields are counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	// After ")": field 3 (state) onward; utime is field 14, stime 15.
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// parseStatm returns the resident pages (the second field).
func parseStatm(b []byte) (int64, error) {
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, fmt.Errorf("%d fields, want at least 2", len(f))
	}
	return strconv.ParseInt(string(f[1]), 10, 64)
}
