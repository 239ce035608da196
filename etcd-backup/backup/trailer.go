package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// ErrTrailer is wrapped by every failure of the snapshot's own integrity
// check: an etcd v3 snapshot ends with the SHA-256 of everything before it.
var ErrTrailer = errors.New("snapshot sha256 trailer mismatch")

// trailerSize is the SHA-256 etcd appends to the database in a snapshot.
const trailerSize = sha256.Size

// TrailerReader passes a snapshot stream through unchanged while checking
// its SHA-256 trailer: it holds back the last 32 bytes it has seen, hashes
// the rest, and at the end of the stream returns either those 32 bytes and
// io.EOF (they matched) or an error wrapping ErrTrailer instead of io.EOF. A
// consumer that treats a non-EOF error as failure (an S3 multipart upload,
// a file written under a temporary name) therefore never completes a
// snapshot that does not check. It also counts the bytes and, optionally,
// hashes the whole stream (our own SHA-256 of the object).
type TrailerReader struct {
	r         io.Reader
	db        hash.Hash // SHA-256 of the bytes known not to be the trailer
	wantWhole bool
	whole     []byte // SHA-256 of everything, once checked and if asked for
	buf       []byte
	n         int // valid bytes in buf
	off       int // bytes of buf already returned
	hashd     int // bytes of buf already fed to db
	size      int64
	eof       bool
	err       error // final error once the trailer was checked (io.EOF when it matched)
}

// NewTrailerReader wraps r; wholeHash asks for the SHA-256 of the whole stream too.
func NewTrailerReader(r io.Reader, wholeHash bool) *TrailerReader {
	return &TrailerReader{r: r, db: sha256.New(), buf: make([]byte, 256<<10), wantWhole: wholeHash}
}

func (t *TrailerReader) Read(p []byte) (int, error) {
	for {
		limit := t.n - trailerSize // bytes before limit are surely not the trailer
		if t.eof && t.err == io.EOF {
			limit = t.n
		}
		if limit > t.hashd && !t.eof {
			t.db.Write(t.buf[t.hashd:limit])
			t.hashd = limit
		}
		if avail := limit - t.off; avail > 0 {
			k := copy(p, t.buf[t.off:limit])
			t.off += k
			return k, nil
		}
		if t.eof {
			return 0, t.err
		}
		// Keep what is not yet returned at the front, read more behind it.
		if t.off > 0 {
			copy(t.buf, t.buf[t.off:t.n])
			t.n -= t.off
			t.hashd -= t.off
			t.off = 0
		}
		m, err := t.r.Read(t.buf[t.n:])
		t.n += m
		t.size += int64(m)
		if err == nil {
			continue
		}
		t.eof = true
		if err != io.EOF {
			t.err = err
			return 0, err
		}
		t.err = t.check()
		if t.err != io.EOF {
			return 0, t.err
		}
	}
}

func (t *TrailerReader) check() error {
	if t.size < trailerSize || t.size%512 != trailerSize {
		return fmt.Errorf("%w: a %d-byte snapshot has no sha256 trailer (size %% 512 must be 32)", ErrTrailer, t.size)
	}
	if t.n-t.off < trailerSize {
		return fmt.Errorf("%w: internal: trailer not buffered", ErrTrailer)
	}
	if limit := t.n - trailerSize; limit > t.hashd { // the last read brought data and EOF together
		t.db.Write(t.buf[t.hashd:limit])
		t.hashd = limit
	}
	want := t.buf[t.n-trailerSize : t.n]
	if t.wantWhole {
		// SHA-256 is a streaming hash: the whole stream's sum is the
		// database's state continued with the trailer, so one pass over
		// the data gives both.
		state, err := t.db.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return err
		}
		w := sha256.New()
		if err := w.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			return err
		}
		w.Write(want)
		t.whole = w.Sum(nil)
	}
	got := t.db.Sum(nil)
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: trailer says %x, the %d bytes before it hash to %x", ErrTrailer, want, t.size-trailerSize, got)
	}
	return io.EOF
}

// Size is the number of bytes read so far (the whole snapshot at the end).
func (t *TrailerReader) Size() int64 { return t.size }

// Checked reports whether the stream ended and its trailer matched.
func (t *TrailerReader) Checked() bool { return t.eof && t.err == io.EOF }

// DBSHA256 is the hex SHA-256 of the database (the trailer's value), valid once Checked.
func (t *TrailerReader) DBSHA256() string { return hex.EncodeToString(t.db.Sum(nil)) }

// SHA256 is the hex SHA-256 of the whole stream, if asked for, valid once Checked.
func (t *TrailerReader) SHA256() string {
	if t.whole == nil {
		return ""
	}
	return hex.EncodeToString(t.whole)
}
