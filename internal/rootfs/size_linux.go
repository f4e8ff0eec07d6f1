package rootfs

import "golang.org/x/sys/unix"

// fileSizes returns a file's apparent size and the bytes its blocks take.
func fileSizes(p string) (apparent, disk int64) {
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil {
		return 0, 0
	}
	return st.Size, st.Blocks * 512
}
