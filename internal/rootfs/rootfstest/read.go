// Package rootfstest reads a built erofs or ext4 image back with the file
// systems' own host tools (fsck.erofs --extract under fakeroot, debugfs), so
// tests compare what the image holds with what its layers say, without
// trusting the code that built it.
package rootfstest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// File is one name in an image, as the file system's tools report it.
type File struct {
	Kind   string // dir, file, symlink, char, block, fifo
	Mode   uint32 // permission bits with setuid/setgid/sticky
	UID    int
	GID    int
	Size   int64  // regular files
	SHA256 string // regular files
	Target string // symlinks
	Rdev   string // devices, "major:minor" in decimal
	Ino    uint64 // equal for hard links
	Links  int
}

// Read returns every name in the image at img, keyed by path ("/" is the
// root; lost+found of ext4 is left out).
func Read(t testing.TB, format, img string) map[string]File {
	t.Helper()
	var files map[string]File
	var err error
	switch format {
	case "erofs":
		files, err = readErofs(t.TempDir(), img)
	case "ext4":
		files, err = readExt4(img)
	default:
		err = fmt.Errorf("format %q", format)
	}
	if err != nil {
		t.Fatalf("reading %s image %s: %v", format, img, err)
	}
	return files
}

// readErofs extracts the image under fakeroot (which keeps owners, setuid
// bits and device nodes as the image says) and stats every name in the
// same fakeroot session.
func readErofs(dir, img string) (map[string]File, error) {
	x := filepath.Join(dir, "x")
	script := `fsck.erofs --extract="$1" --preserve "$2" >/dev/null && cd "$1" &&
find . -exec stat --printf='%n\t%F\t%f\t%u\t%g\t%s\t%t\t%T\t%i\t%h\t%N\n' {} +`
	out, err := exec.Command("fakeroot", "--", "sh", "-c", script, "sh", x, img).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	files := map[string]File{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 11 {
			return nil, fmt.Errorf("stat line %q", sc.Text())
		}
		raw, _ := strconv.ParseUint(f[2], 16, 32)
		var e File
		e.Kind = kindOf(uint32(raw))
		e.Mode = uint32(raw) & 0o7777
		e.UID, _ = strconv.Atoi(f[3])
		e.GID, _ = strconv.Atoi(f[4])
		e.Ino, _ = strconv.ParseUint(f[8], 10, 64)
		e.Links, _ = strconv.Atoi(f[9])
		name := path.Clean("/" + strings.TrimPrefix(f[0], "."))
		switch e.Kind {
		case "file":
			e.Size, _ = strconv.ParseInt(f[5], 10, 64)
			sum, err := fileSum(filepath.Join(x, name))
			if err != nil {
				return nil, err
			}
			e.SHA256 = sum
		case "symlink":
			target, err := os.Readlink(filepath.Join(x, name))
			if err != nil {
				return nil, err
			}
			e.Target = target
		}
		if e.Kind != "dir" {
			// fsck.erofs 1.5 extracts hard links as copies: ask for the inode.
			nid, links, err := erofsInode(img, name)
			if err != nil {
				return nil, err
			}
			e.Ino, e.Links = nid, links
		}
		switch e.Kind {
		case "char", "block":
			maj, _ := strconv.ParseUint(f[6], 16, 32)
			min, _ := strconv.ParseUint(f[7], 16, 32)
			e.Rdev = fmt.Sprintf("%d:%d", maj, min)
		}
		files[name] = e
	}
	return files, nil
}

func fileSum(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

func kindOf(mode uint32) string {
	switch mode & 0o170000 {
	case 0o040000:
		return "dir"
	case 0o100000:
		return "file"
	case 0o120000:
		return "symlink"
	case 0o020000:
		return "char"
	case 0o060000:
		return "block"
	case 0o010000:
		return "fifo"
	}
	return fmt.Sprintf("mode %o", mode)
}
