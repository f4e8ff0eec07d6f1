//go:build !linux

package procstat

// Read is unsupported off Linux.
func Read(pid int) (Sample, error) { return Sample{}, ErrUnsupported }
