package wire

// The guest's storage, set up by the guest init during the handshake
// (before the Welcome, so before any command runs): the root file system of
// an OCI image, read-only images mounted at paths (OCI skills), and host
// directories. Disks are found by their virtio-blk serial, which the host
// gives QEMU: the guest's device names (vda, vdb) follow probe order, not
// the order of QEMU's arguments.

// MaxSerial is the longest virtio-blk serial (VIRTIO_BLK_ID_BYTES).
const MaxSerial = 20

// Storage is what the guest mounts during the handshake.
type Storage struct {
	// Root, when set, is the guest's root file system: the erofs image on
	// this disk, read-only, under an overlay whose writable layer is in the
	// disk budget. Every command and file request then sees that root.
	Root *Disk `json:"root,omitempty"`
	// Images are further read-only erofs disks mounted at paths.
	Images []DiskMount `json:"images,omitempty"`
	// Shares are host directories (virtiofs), mounted after the sandbox
	// user's filesystems, so one can cover /workspace.
	Shares []Share `json:"shares,omitempty"`
}

// Disk names a virtio-blk disk by its serial.
type Disk struct {
	Serial string `json:"serial"`
}

// DiskMount is a read-only erofs disk mounted at Path.
type DiskMount struct {
	Serial string `json:"serial"`
	Path   string `json:"path"`
}

// Share is a host directory exported with virtiofs under Tag. ReadOnly is
// enforced by the host; the guest mounts it read-only as well.
type Share struct {
	Tag      string `json:"tag"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Empty reports whether s asks for nothing.
func (s Storage) Empty() bool { return s.Root == nil && len(s.Images) == 0 && len(s.Shares) == 0 }
