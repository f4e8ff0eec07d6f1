package claudecode

import "testing"

// RealImage and RealCacheDir give the external tests (the CLI's) the real
// flavour built once per test binary.
func RealImage(t *testing.T) *Image { return realImage(t) }

func RealCacheDir() string { return real.cacheDir }
