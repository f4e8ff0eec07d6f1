package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/voidbox/voidbox/internal/store/storetest"
)

func TestMain(m *testing.M) {
	storetest.HelperMain()
	os.Exit(m.Run())
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		NewURL:    func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "state.db") },
		Exclusive: true,
	})
}

func TestFSConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		NewURL:    func(t *testing.T) string { return "fs:" + filepath.Join(t.TempDir(), "store") },
		Exclusive: true,
	})
}

func TestValkeyConformance(t *testing.T) {
	addr := storetest.StartRedis(t)
	n := 0
	storetest.Run(t, storetest.Harness{
		NewURL: func(t *testing.T) string {
			n++
			return fmt.Sprintf("valkey://%s/0?prefix=t%d&data=%s", addr, n, filepath.Join(t.TempDir(), "outputs"))
		},
	})
}
