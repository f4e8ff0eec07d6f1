//go:build unix && !linux

package admission

import "errors"

// watch is not implemented off Linux: waiters poll.
func watch(string, func()) (func(), error) {
	return nil, errors.New("no inotify")
}
