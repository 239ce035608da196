package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"cronbox/gof3r/s3"
	"cronbox/testkit"
)

// eagerEncoder writes a header the moment it is made, before any input, as
// age.Encrypt does; then it copies its input.
type eagerEncoder struct{ w io.Writer }

func (e eagerEncoder) Write(p []byte) (int, error) { return e.w.Write(p) }
func (e eagerEncoder) Close() error                { return nil }

// An encoder that writes as soon as it is made does not block Put: the
// encode stage made the encoder before anyone read its output, so such an
// encoder waited for a reader that came only after it returned, and Put
// never ended (codec wraps age to start lazily because of it). Pinned
// with an encoder that writes at once, for an empty input, one part and
// several; and an encoder that cannot be made fails the put, naming it.
func TestEncoderThatWritesAtOnce(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "eager")
	c := newClient(t, srv)
	header := []byte("HEADER written before the first byte of input\n")
	eager := func(w io.Writer) (io.WriteCloser, error) {
		if _, err := w.Write(header); err != nil {
			return nil, err
		}
		return eagerEncoder{w}, nil
	}
	put := func(key string, data []byte, encode func(io.Writer) (io.WriteCloser, error)) (s3.Object, error) {
		type result struct {
			obj s3.Object
			err error
		}
		done := make(chan result, 1)
		go func() {
			obj, err := c.Put(context.Background(), b, key, onlyReader{bytes.NewReader(data)}, s3.PutOptions{Encode: encode})
			done <- result{obj, err}
		}()
		select {
		case r := <-done:
			return r.obj, r.err
		case <-time.After(time.Minute):
			t.Fatalf("put %s of %d bytes through an encoder that writes at once: still blocked after a minute", key, len(data))
			return s3.Object{}, nil
		}
	}
	for _, size := range []int{0, 1000, 2*part + 7} {
		data := randomBytes(size, uint64(size)+1)
		obj, err := put("k", data, eager)
		if err != nil || obj.InputSize != int64(size) {
			t.Fatalf("size %d: put %+v: %v", size, obj, err)
		}
		stored, _ := os.ReadFile(srv.ObjectPath(b, "k"))
		if !bytes.Equal(stored, append(append([]byte{}, header...), data...)) {
			t.Fatalf("size %d: stored %d bytes, want the header and the input (%d)", size, len(stored), len(header)+size)
		}
	}
	refused := errors.New("no recipient")
	_, err := put("refused", randomBytes(1000, 9), func(io.Writer) (io.WriteCloser, error) { return nil, refused })
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "encode") {
		t.Fatalf("put through an encoder that cannot be made: %v", err)
	}
	if _, err := c.Stat(context.Background(), b, "refused"); !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("a refused encoder left an object: %v", err)
	}
}
