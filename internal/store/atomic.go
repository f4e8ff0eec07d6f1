package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path with data so that after a crash the file is
// either the old one or the new one, whole: write a temp file in the same
// directory, fsync it, rename it over path, fsync the directory (the rename
// is only durable once the directory is).
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// blobDir keeps large outputs as files, one directory per run:
// DIR/RUN/<sha256(stage)>-<random>. The random part means a replacement is
// a new file, so a record never points at a file half-way to other contents;
// the old file is removed once the record points at the new one.
type blobDir string

func (b blobDir) runDir(run string) string { return filepath.Join(string(b), run) }

// write stores data for (run, stage) and returns the file's name.
func (b blobDir) write(run, stage string, data []byte) (string, error) {
	dir := b.runDir(run)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("output directory: %w", err)
	}
	sum := sha256.Sum256([]byte(stage))
	var r [8]byte
	rand.Read(r[:])
	name := hex.EncodeToString(sum[:12]) + "-" + hex.EncodeToString(r[:])
	if err := writeFileAtomic(filepath.Join(dir, name), data); err != nil {
		return "", fmt.Errorf("writing output of %q: %w", stage, err)
	}
	return name, syncDir(string(b))
}

func (b blobDir) read(run, name string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(b.runDir(run), filepath.Base(name)))
	if err != nil {
		return nil, fmt.Errorf("reading output file: %w", err)
	}
	return data, nil
}

func (b blobDir) remove(run, name string) {
	os.Remove(filepath.Join(b.runDir(run), filepath.Base(name)))
}

func (b blobDir) removeRun(run string) error {
	return os.RemoveAll(b.runDir(run))
}

// prune removes the directories of runs that keep reports false: left by a
// crash between deleting a run's record and its files.
func (b blobDir) prune(keep func(run string) (bool, error)) error {
	entries, err := os.ReadDir(string(b))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		ok, err := keep(e.Name())
		if err != nil {
			return err
		}
		if !ok {
			if err := os.RemoveAll(filepath.Join(string(b), e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
