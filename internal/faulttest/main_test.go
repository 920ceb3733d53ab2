package faulttest

import (
	"fmt"
	"os"
	"testing"

	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// keyFile is the personal-data key file every server and command of the
// run uses (each test has a database of its own; the keys may be shared).
var keyFile string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kopilka-faulttest-")
	if err == nil {
		keyFile, err = storagetest.KeyFile(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "faulttest:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testGetenv is the environment of the program under test: only the key
// file.
func testGetenv(name string) string {
	if name == "KOPILKA_PII_KEYS" {
		return keyFile
	}
	return ""
}
