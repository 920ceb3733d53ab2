package e2e_test

import (
	"os"
	"testing"

	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

func TestMain(m *testing.M) { os.Exit(storagetest.MainWithKeys(m, "e2e")) }

// testGetenv is the environment of the program under test: only the key
// file.
var testGetenv = storagetest.Getenv
