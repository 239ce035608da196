package backup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A file destination appears only when the trailer checked; a bad stream
// leaves neither the file nor its temporary.
func TestWriteFileAtomic(t *testing.T) {
	good := snapshotBytes(2 * 4096)
	bad := bytes.Clone(good)
	bad[10] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{{"good", good, true}, {"bad", bad, false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "s.db")
			tr := NewTrailerReader(bytes.NewReader(tc.data), true)
			err := writeFileAtomic(path, tr, func() (string, error) {
				if !tr.Checked() {
					return "", ErrTrailer
				}
				return tr.SHA256(), nil
			})
			entries, _ := os.ReadDir(dir)
			if !tc.ok {
				if !errors.Is(err, ErrTrailer) || len(entries) != 0 {
					t.Fatalf("err %v, dir %v", err, entries)
				}
				return
			}
			got, rerr := os.ReadFile(path)
			side, _ := os.ReadFile(path + ".sha256")
			if err != nil || rerr != nil || !bytes.Equal(got, tc.data) || len(entries) != 2 || !bytes.HasPrefix(side, []byte(tr.SHA256()+"  s.db")) {
				t.Fatalf("err %v, dir %v, sidecar %q", err, entries, side)
			}
		})
	}
}
