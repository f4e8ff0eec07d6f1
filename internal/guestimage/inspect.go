package guestimage

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// KernelEnv pins the guest kernel package (e.g. linux-image-6.1.0-57-amd64)
// instead of following the linux-image-amd64 metapackage.
const KernelEnv = "VOIDBOX_KERNEL_PACKAGE"

// CacheState is what the cache holds for the guest, as recorded by the last
// set-up (for voidbox doctor and version): read without changing anything.
type CacheState struct {
	Root string `json:"cache_dir"`
	// KernelRequest is what set-up asks apt for: the metapackage, or the
	// package pinned by $VOIDBOX_KERNEL_PACKAGE.
	KernelRequest string `json:"kernel_request"`
	Pinned        bool   `json:"kernel_pinned"`
	// KernelPackage is the concrete package=version that request resolved
	// to at the last set-up ("" if none has run for it).
	KernelPackage string `json:"kernel_package,omitempty"`
	KernelRelease string `json:"kernel_release,omitempty"` // guest `uname -r`
	Vmlinux       string `json:"vmlinux,omitempty"`
	Busybox       string `json:"busybox_package,omitempty"`
	// CACertificates is the package of the guest's CA bundle.
	CACertificates string `json:"ca_certificates_package,omitempty"`
}

// Inspect reports what the cache holds for the kernel that set-up would use
// now (following $VOIDBOX_KERNEL_PACKAGE). An error means the guest is not
// ready: no set-up has run for that kernel, or its files are gone.
func Inspect(cacheDir string) (CacheState, error) {
	root, err := CacheRoot(cacheDir)
	if err != nil {
		return CacheState{}, err
	}
	s := CacheState{Root: root, KernelRequest: kernelMetapackage}
	if p := os.Getenv(KernelEnv); p != "" {
		s.KernelRequest, s.Pinned = p, true
	}
	st := loadState(root)
	if b, ok := st[busyboxPackage]; ok {
		s.Busybox = b.String()
	}
	if c, ok := st[caPackage]; ok {
		s.CACertificates = c.String()
	}
	k, ok := st[s.KernelRequest]
	if !ok {
		pin := ""
		if s.Pinned {
			pin = " (pinned by " + KernelEnv + ")"
		}
		return s, fmt.Errorf("no guest kernel for %s%s in %s yet", s.KernelRequest, pin, root)
	}
	s.KernelPackage = k.String()
	dir := filepath.Join(root, "kernel", k.dirName())
	var meta kernelMeta
	if b, err := os.ReadFile(filepath.Join(dir, "kernel.json")); err == nil && json.Unmarshal(b, &meta) == nil && meta.Index != nil {
		s.KernelRelease = meta.Index.Release
	}
	vmlinux := filepath.Join(dir, "vmlinux")
	if _, err := os.Stat(vmlinux); err != nil {
		return s, fmt.Errorf("guest kernel %s recorded but %s is missing", k, vmlinux)
	}
	s.Vmlinux = vmlinux
	return s, nil
}

// Summary is one line for a person.
func (s CacheState) Summary() string {
	line := fmt.Sprintf("kernel %s", s.KernelPackage)
	if s.KernelRelease != "" {
		line += " (" + s.KernelRelease + ")"
	}
	if s.Pinned {
		line += ", pinned by " + KernelEnv
	} else {
		line += ", from " + kernelMetapackage
	}
	if s.Busybox != "" {
		line += ", " + s.Busybox
	}
	return line
}
