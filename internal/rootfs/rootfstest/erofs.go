package rootfstest

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
)

// erofsInode asks dump.erofs for name's inode number (NID) and link count.
func erofsInode(img, name string) (nid uint64, links int, err error) {
	out, err := exec.Command("dump.erofs", "--path="+name, img).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("dump.erofs --path=%s: %v", name, err)
	}
	m := regexp.MustCompile(`NID: (\d+)\s+Links: (\d+)`).FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("dump.erofs --path=%s: no NID in %q", name, out)
	}
	nid, _ = strconv.ParseUint(string(m[1]), 10, 64)
	links, _ = strconv.Atoi(string(m[2]))
	return nid, links, nil
}

// erofsXattrs reads the inline and shared xattrs of inode nid, following
// the kernel's fs/erofs/erofs_fs.h layout.
func erofsXattrs(img string, nid uint64) (map[string]string, error) {
	data, err := os.ReadFile(img)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	sb := data[1024:]
	if le.Uint32(sb) != 0xE0F5E1E2 {
		return nil, fmt.Errorf("not erofs")
	}
	blk := uint64(1) << sb[12]
	meta := uint64(le.Uint32(sb[40:])) * blk
	xattrBlk := uint64(le.Uint32(sb[44:])) * blk
	off := meta + nid*32
	format := le.Uint16(data[off:])
	icount := le.Uint16(data[off+2:])
	isize := uint64(32)
	if format&1 == 1 {
		isize = 64
	}
	xs := map[string]string{}
	if icount == 0 {
		return xs, nil
	}
	prefixes := map[byte]string{1: "user.", 2: "system.posix_acl_access", 3: "system.posix_acl_default", 4: "trusted.", 6: "security."}
	entry := func(p uint64) (uint64, error) {
		if p+4 > uint64(len(data)) {
			return 0, fmt.Errorf("xattr entry past the end")
		}
		nlen, idx, vlen := uint64(data[p]), data[p+1], uint64(le.Uint16(data[p+2:]))
		name := prefixes[idx] + string(data[p+4:p+4+nlen])
		xs[name] = string(data[p+4+nlen : p+4+nlen+vlen])
		return (4 + nlen + vlen + 3) &^ 3, nil
	}
	body := off + isize
	shared := uint64(data[body+4])
	end := body + 12 + uint64(icount-1)*4
	for i := uint64(0); i < shared; i++ {
		id := uint64(le.Uint32(data[body+12+i*4:]))
		if _, err := entry(xattrBlk + id*4); err != nil {
			return nil, err
		}
	}
	for p := body + 12 + shared*4; p < end; {
		n, err := entry(p)
		if err != nil {
			return nil, err
		}
		p += n
	}
	return xs, nil
}
