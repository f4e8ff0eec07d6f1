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
	"regexp"
	"strconv"
	"strings"
)

// readExt4 walks the image with debugfs, one batch of `ls -p` per directory
// level, then `stat` for links and devices and `cat` for contents.
func readExt4(img string) (map[string]File, error) {
	files := map[string]File{}
	level := []string{"/"}
	root, err := debugfs(img, "ls -p /")
	if err != nil {
		return nil, err
	}
	for _, e := range parseLs(root) {
		if e.name == "." {
			f := e.file
			files["/"] = f
		}
	}
	for len(level) > 0 {
		var cmds []string
		for _, d := range level {
			cmds = append(cmds, "ls -p "+quote(d))
		}
		out, err := debugfs(img, cmds...)
		if err != nil {
			return nil, err
		}
		var next []string
		for i, chunk := range splitPrompts(out) {
			if i >= len(level) {
				break
			}
			for _, e := range parseLs(chunk) {
				if e.name == "." || e.name == ".." || (level[i] == "/" && e.name == "lost+found") {
					continue
				}
				p := path.Join(level[i], e.name)
				files[p] = e.file
				if e.file.Kind == "dir" {
					next = append(next, p)
				}
			}
		}
		level = next
	}
	for p, f := range files {
		switch f.Kind {
		case "symlink", "char", "block":
			out, err := debugfs(img, "stat "+quote(p))
			if err != nil {
				return nil, err
			}
			if f.Kind == "symlink" {
				m := regexp.MustCompile(`Fast link dest: "(.*)"`).FindStringSubmatch(out)
				if m == nil {
					// Long targets are in a data block: read them with cat.
					data, err := debugfs(img, "cat "+quote(p))
					if err != nil {
						return nil, err
					}
					f.Target = stripPrompt(data)
				} else {
					f.Target = m[1]
				}
			} else {
				m := regexp.MustCompile(`Device major/minor number: ([0-9a-f]+):([0-9a-f]+)`).FindStringSubmatch(out)
				if m == nil {
					return nil, fmt.Errorf("%s: no device number in %q", p, out)
				}
				maj, _ := strconv.ParseUint(m[1], 16, 32)
				min, _ := strconv.ParseUint(m[2], 16, 32)
				f.Rdev = fmt.Sprintf("%d:%d", maj, min)
			}
		case "file":
			out, err := exec.Command(debugfsPath(), "-R", "cat "+quote(p), img).Output()
			if err != nil {
				return nil, err
			}
			s := sha256.Sum256(out)
			f.SHA256 = hex.EncodeToString(s[:])
		}
		files[p] = f
	}
	// Link counts: the names that share an inode.
	count := map[uint64]int{}
	for _, f := range files {
		if f.Kind != "dir" {
			count[f.Ino]++
		}
	}
	for p, f := range files {
		if f.Kind != "dir" {
			f.Links = count[f.Ino]
			files[p] = f
		}
	}
	return files, nil
}

// debugfsPath finds debugfs also where an ordinary user's PATH lacks sbin.
func debugfsPath() string {
	for _, p := range []string{"/usr/sbin/debugfs", "/sbin/debugfs"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "debugfs"
}

func debugfs(img string, cmds ...string) (string, error) {
	cmd := exec.Command(debugfsPath(), "-f", "-", img)
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("debugfs %q: %v", cmds, err)
	}
	return string(out), nil
}

// splitPrompts cuts debugfs -f output at its "debugfs: CMD" echo lines.
func splitPrompts(out string) []string {
	parts := strings.Split(out, "debugfs: ")
	if len(parts) > 0 {
		parts = parts[1:]
	}
	return parts
}

func stripPrompt(s string) string {
	if i := strings.Index(s, "\n"); strings.HasPrefix(s, "debugfs: ") && i >= 0 {
		return s[i+1:]
	}
	return s
}

type lsEntry struct {
	name string
	file File
}

// parseLs reads `ls -p` lines: /inode/mode/uid/gid/name/size/.
func parseLs(out string) []lsEntry {
	var es []lsEntry
	sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "/") || !strings.HasSuffix(l, "/") {
			continue
		}
		f := strings.Split(l[1:len(l)-1], "/")
		if len(f) < 6 {
			continue
		}
		ino, _ := strconv.ParseUint(f[0], 10, 64)
		mode, _ := strconv.ParseUint(f[1], 8, 32)
		uid, _ := strconv.Atoi(f[2])
		gid, _ := strconv.Atoi(f[3])
		name := strings.Join(f[4:len(f)-1], "/")
		size, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
		e := File{Kind: kindOf(uint32(mode)), Mode: uint32(mode) & 0o7777, UID: uid, GID: gid, Ino: ino}
		if e.Kind == "file" {
			e.Size = size
		}
		es = append(es, lsEntry{name: name, file: e})
	}
	return es
}

func quote(p string) string { return `"` + strings.ReplaceAll(p, `"`, `\"`) + `"` }
