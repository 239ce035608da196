package reliability

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"cronbox/testkit"
)

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// waitFileGrows waits until something is being written next to out (the
// final file or a temporary one beside it), or the process ended.
func waitFileGrows(t *testing.T, out string, p *proc) {
	t.Helper()
	testkit.WaitFor(t, time.Minute, "the download to start writing", func() error {
		if p.exited() {
			return nil
		}
		ents, _ := os.ReadDir(filepath.Dir(out))
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Size() > 1<<20 {
				return nil
			}
		}
		return testkit.ErrNotYet
	})
	if p.exited() {
		t.Fatalf("the download ended before the fault: exit %d", p.code)
	}
}
