package crashtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// binDir holds the kopilka binary built for this test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kopilka-crashtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
	binDir = dir
	// The servers and commands this package runs read their key file from
	// the environment (one for every database of the run).
	keys, err := storagetest.KeyFile(dir)
	if err == nil {
		err = os.Setenv("KOPILKA_PII_KEYS", keys)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var built struct {
	once sync.Once
	path string
	err  error
}

// kopilkaBinary builds cmd/kopilka once per test run and returns its path.
func kopilkaBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		p := filepath.Join(binDir, "kopilka")
		args := []string{"build", "-o", p}
		if raceBuild {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "github.com/kopilka/kopilka/cmd/kopilka")...).CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build ./cmd/kopilka: %v\n%s", err, out)
			return
		}
		built.path = p
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}
