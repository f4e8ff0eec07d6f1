package oci

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FuzzNewRecord feeds a registry's manifest and config bytes (untrusted)
// through the parsers and newRecord. Whatever they hold, nothing panics,
// and an accepted record names only blobs whose files stay inside the blob
// directory, with sizes that are not negative. The config's digest is set
// from its bytes so the fuzzer gets past that check. The committed corpus
// (testdata/fuzz/FuzzNewRecord) is a real single-layer image, one with
// a climbing layer digest, and one with a diff_id missing.
func FuzzNewRecord(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":10,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}`),
		[]byte(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"WorkingDir":"/w"},"rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}}`))
	f.Fuzz(func(t *testing.T, manifest, config []byte) {
		m, err := v1.ParseManifest(bytes.NewReader(manifest))
		if err != nil {
			return
		}
		h, _, err := v1.SHA256(bytes.NewReader(config))
		if err != nil {
			t.Fatal(err)
		}
		m.Config.Digest = h
		rec, err := newRecord(m, manifest, config, sha256Digest(manifest), nil)
		if err != nil {
			return
		}
		s := &Store{dir: "/cache"}
		base := filepath.Join("/cache", "blobs", "sha256") + string(filepath.Separator)
		for _, d := range rec.blobs() {
			if p := s.blobPath(d); !strings.HasPrefix(p, base) || filepath.Base(p) != strings.TrimPrefix(d, "sha256:") {
				t.Fatalf("blob %q is stored at %s", d, p)
			}
		}
		if len(rec.Layers) != len(m.Layers) || rec.Size < 0 {
			t.Fatalf("%d layers recorded for %d, size %d", len(rec.Layers), len(m.Layers), rec.Size)
		}
		for _, l := range rec.Layers {
			if l.Size < 0 {
				t.Fatalf("layer %s of size %d accepted", l.Digest, l.Size)
			}
		}
	})
}
