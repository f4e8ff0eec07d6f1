// Package oci pulls container images from registries into a content-
// addressed cache beside the guest kernel cache, and turns them into the
// read-only root file system images (package rootfs) a micro-VM boots from.
//
// Cache layout, below <cache root>/oci (the cache root is
// guestimage.CacheRoot's):
//
//	blobs/sha256/<hex>        every manifest, index, config and layer blob, digest-verified
//	                          before it was renamed here (never partially written)
//	images/<hex>/image.json   one pulled image (the manifest's digest), what inspect shows
//	images/<hex>/used         its mtime is the last use (pull, boot, build), for prune's LRU order
//	images/<hex>/use.lock     flock: shared by every VM booted from the image, so rm and prune
//	                          (which need it exclusively, without waiting) leave it alone
//	images/<hex>/rootfs.erofs the root file system, built once per image digest and format
//	refs.json                 canonical reference ("localhost:5000/toolbox:1") → image digest
//	locks/                    flock files: gc.lock (shared by pulls and builds, exclusive for
//	                          rm and prune), image-<hex>.lock, blob-<hex>.lock, refs.lock
//	tmp/                      downloads and builds in progress; renamed into place when verified
//
// Two pulls of one image (goroutines or processes) serialise on the image's
// lock; the second finds the first's work done. A blob is written to
// tmp/<hex>.partial under its blob lock, hashed while it streams, and only
// a blob whose sha256 and size match its descriptor is renamed into blobs/.
// An interrupted pull leaves at most a .partial file, which the next pull of
// that blob truncates: finished blobs are kept (the retry resumes there) and
// the cut blob is fetched again from its start.
package oci
