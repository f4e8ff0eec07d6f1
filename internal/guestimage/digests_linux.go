package guestimage

import (
	"os"
	"syscall"
)

// addStatKey adds the change time, inode and device to k.
func addStatKey(k *fileKey, fi os.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.Ctime = st.Ctim.Nano()
		k.Inode, k.Dev = st.Ino, st.Dev
	}
}
