package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func snapshotBytes(n int) []byte {
	db := make([]byte, n)
	for i := range db {
		db[i] = byte(i*7 + i/300)
	}
	sum := sha256.Sum256(db)
	return append(db, sum[:]...)
}

func TestTrailerReader(t *testing.T) {
	good := snapshotBytes(3 * 4096)
	flipped := bytes.Clone(good)
	flipped[100] ^= 1
	badTrailer := bytes.Clone(good)
	badTrailer[len(badTrailer)-1] ^= 1
	for _, tc := range []struct {
		name    string
		data    []byte
		wrap    func(io.Reader) io.Reader
		wantErr error
	}{
		{"good", good, nil, nil},
		{"good one byte at a time", good, iotest.OneByteReader, nil},
		{"good half reads", good, iotest.HalfReader, nil},
		{"good data with EOF", good, iotest.DataErrReader, nil},
		{"flipped data with EOF", flipped, iotest.DataErrReader, ErrTrailer},
		{"flipped body", flipped, nil, ErrTrailer},
		{"flipped trailer", badTrailer, iotest.OneByteReader, ErrTrailer},
		{"truncated", good[:len(good)-1000], nil, ErrTrailer},
		{"empty", nil, nil, ErrTrailer},
		{"no trailer", good[:4096], nil, ErrTrailer},
		{"short", good[:10], nil, ErrTrailer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(tc.data)
			if tc.wrap != nil {
				r = tc.wrap(r)
			}
			tr := NewTrailerReader(r, true)
			var out bytes.Buffer
			_, err := io.Copy(&out, tr)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if tr.Checked() {
					t.Fatal("Checked() after a failure")
				}
				return
			}
			if err != nil {
				t.Fatalf("copy: %v", err)
			}
			if !bytes.Equal(out.Bytes(), tc.data) {
				t.Fatalf("output differs from input (%d vs %d bytes)", out.Len(), len(tc.data))
			}
			whole := sha256.Sum256(tc.data)
			if tr.SHA256() != hex.EncodeToString(whole[:]) || tr.Size() != int64(len(tc.data)) || !tr.Checked() {
				t.Fatalf("sha %s size %d checked %v", tr.SHA256(), tr.Size(), tr.Checked())
			}
			if tr.DBSHA256() != hex.EncodeToString(tc.data[len(tc.data)-32:]) {
				t.Fatal("DBSHA256 is not the trailer")
			}
		})
	}
}

// A read error from etcd passes through as itself, not as EOF.
func TestTrailerReaderPassesErrors(t *testing.T) {
	boom := errors.New("stream broke")
	tr := NewTrailerReader(io.MultiReader(bytes.NewReader(snapshotBytes(4096)[:5000]), iotest.ErrReader(boom)), false)
	if _, err := io.Copy(io.Discard, tr); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}
