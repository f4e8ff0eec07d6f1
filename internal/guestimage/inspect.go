package guestimage

import (
	"fmt"
	"os"
	"path/filepath"
)

// Inspect describes what the cache holds without changing it (for voidbox
// doctor): the resolved kernel and whether its vmlinux is present. It does not
// verify the initramfs, whose key depends on the guest agent binary.
func Inspect(cacheDir string) (string, error) {
	root, err := CacheRoot(cacheDir)
	if err != nil {
		return "", err
	}
	st := loadState(root)
	k, ok := st[kernelMetapackage]
	if !ok {
		return "", fmt.Errorf("no guest kernel in %s yet", root)
	}
	vmlinux := filepath.Join(root, "kernel", k.dirName(), "vmlinux")
	if _, err := os.Stat(vmlinux); err != nil {
		return "", fmt.Errorf("guest kernel %s recorded but %s is missing", k, vmlinux)
	}
	s := fmt.Sprintf("kernel %s (%s)", k, vmlinux)
	if b, ok := st[busyboxPackage]; ok {
		s += ", " + b.String()
	}
	return s, nil
}
