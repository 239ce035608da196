package s3_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cronbox/gof3r/s3"
	"cronbox/testkit"
)

// Every failure of a multipart upload aborts it: S3 refusing the start,
// a part in the middle, or the completion, for a stream larger than the
// part buffers (8 parts through 2 buffers), from a pipe, from a file, and
// through an encoder; nothing is left and Put returns an error that names
// the step. Run with -race: the reader and encoder goroutines are still
// busy when a refusal arrives.
func TestEveryMultipartFailureAborts(t *testing.T) {
	srv := testkit.Versitygw(t)
	rec, ep := startRecorder(t, srv)
	c := proxiedClient(t, srv, ep, s3.Config{Concurrency: 2, MaxRetries: 2})
	direct := newClient(t, srv)
	size := 8*part + 123
	data := randomBytes(size, 51)
	file := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	inputs := map[string]func() (io.Reader, s3.PutOptions){
		"pipe": func() (io.Reader, s3.PutOptions) { return onlyReader{bytes.NewReader(data)}, s3.PutOptions{} },
		"file": func() (io.Reader, s3.PutOptions) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f, s3.PutOptions{}
		},
		"encoded": func() (io.Reader, s3.PutOptions) {
			return onlyReader{bytes.NewReader(data)}, s3.PutOptions{Encode: gzipEncode(gzip.NoCompression)}
		},
	}
	refusals := []struct {
		name, step string
		refuse     func(recorded) bool
	}{
		{"start", "start multipart upload", func(r recorded) bool { return r.kind() == "create" }},
		{"part 3", "put part 3", func(r recorded) bool { return r.kind() == "part" && r.query.Get("partNumber") == "3" }},
		{"completion", "complete multipart upload", func(r recorded) bool { return r.kind() == "complete" }},
	}
	for _, rf := range refusals {
		for in, mk := range inputs {
			t.Run(rf.name+"/"+in, func(t *testing.T) {
				b := srv.Bucket(t, strings.ReplaceAll("refuse-"+rf.name+"-"+in, " ", "-"))
				rec.setRefuse(func(r recorded) (int, string) {
					if rf.refuse(r) {
						return 403, "AccessDenied"
					}
					return 0, ""
				})
				defer rec.setRefuse(nil)
				r, opts := mk()
				_, err := c.Put(context.Background(), b, "k", r, opts)
				if err == nil || !strings.Contains(err.Error(), rf.step) || !strings.Contains(err.Error(), "AccessDenied") {
					t.Fatalf("put: %v, want the refusal of %q", err, rf.step)
				}
				assertNothing(t, direct, b)
			})
		}
	}
}

func gzipEncode(level int) func(io.Writer) (io.WriteCloser, error) {
	return func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, level) }
}

func gunzipDecode(obj s3.Object, r io.Reader) (io.Reader, error) {
	if obj.Metadata["codec"] != "gzip" {
		return nil, errors.New("not gzip: " + obj.Metadata["codec"])
	}
	return gzip.NewReader(r)
}

// Encode and Decode stream through a codec: the stored bytes are the
// encoder's, checked as stored; the reader gets the input back.
func TestEncodeDecode(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "codec")
	c := newClient(t, srv)
	ctx := context.Background()
	for _, size := range []int{0, 1000, 4*part + 9} {
		data := bytes.Repeat(randomBytes(1000, uint64(size)), size/1000+1)[:size]
		var progressed atomic.Int64
		obj, err := c.Put(ctx, b, "k", onlyReader{bytes.NewReader(data)}, s3.PutOptions{
			Metadata: map[string]string{"codec": "gzip"}, Encode: gzipEncode(gzip.BestSpeed), SHA256: true,
			Progress: func(n int64) { progressed.Store(n) },
		})
		if err != nil || obj.InputSize != int64(size) || progressed.Load() != int64(size) || obj.SHA256 == "" {
			t.Fatalf("size %d: put %+v, progress %d, %v", size, obj, progressed.Load(), err)
		}
		stored, _ := os.ReadFile(srv.ObjectPath(b, "k"))
		if int64(len(stored)) != obj.Size || hexSHA(stored) != obj.SHA256 {
			t.Fatalf("size %d: stored %d bytes, put says %d (sha %s)", size, len(stored), obj.Size, obj.SHA256)
		}
		var got bytes.Buffer
		if _, err := c.GetWithOptions(ctx, b, "k", &got, s3.GetOptions{Decode: gunzipDecode}); err != nil || !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("size %d: get decoded %d bytes: %v", size, got.Len(), err)
		}
	}
	// A damaged object fails the get: by the checksum at the end, or by
	// the decoder if it notices first (Get does not read on to check the
	// checksum once the decoder has stopped).
	st, _ := c.Stat(ctx, b, "k")
	flipByte(t, srv, b, "k", st.Size-10)
	if _, err := c.GetWithOptions(ctx, b, "k", io.Discard, s3.GetOptions{Decode: gunzipDecode}); !errors.Is(err, s3.ErrChecksum) && !strings.Contains(fmt.Sprint(err), "decode") {
		t.Fatalf("get of a damaged encoded object: %v, want ErrChecksum or the decoder's error", err)
	}
	// An object whose bytes decode but do not match its checksum: the
	// mismatch is the error.
	plain := randomBytes(2*part, 5)
	if _, err := c.Put(ctx, b, "k2", onlyReader{bytes.NewReader(plain)}, s3.PutOptions{Metadata: map[string]string{"codec": "copy"}}); err != nil {
		t.Fatal(err)
	}
	flipByte(t, srv, b, "k2", part)
	copyDecode := func(_ s3.Object, r io.Reader) (io.Reader, error) { return r, nil }
	if _, err := c.GetWithOptions(ctx, b, "k2", io.Discard, s3.GetOptions{Decode: copyDecode}); !errors.Is(err, s3.ErrChecksum) {
		t.Fatalf("get of a damaged object through a decoder that cannot tell: %v, want ErrChecksum", err)
	}
	// A decoder that refuses the object: its error, nothing written.
	if _, err := c.Put(ctx, b, "plain", onlyReader{bytes.NewReader(randomBytes(2*part, 3))}, s3.PutOptions{Metadata: map[string]string{"codec": "gzip"}}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, err := c.GetWithOptions(ctx, b, "plain", &got, s3.GetOptions{Decode: gunzipDecode})
	if err == nil || !strings.Contains(err.Error(), "decode") || got.Len() != 0 {
		t.Fatalf("get of a non-gzip object through gunzip: %v (%d bytes)", err, got.Len())
	}
	// An encoder that fails mid-stream fails the put; nothing stored.
	boom := errors.New("encoder broke")
	_, err = c.Put(ctx, b, "broken", onlyReader{bytes.NewReader(randomBytes(3*part, 4))}, s3.PutOptions{
		Encode: func(w io.Writer) (io.WriteCloser, error) { return &failingWriter{w: w, left: 2 * part, err: boom}, nil },
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "encode") {
		t.Fatalf("put through a failing encoder: %v", err)
	}
	if _, err := c.Stat(ctx, b, "broken"); !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("a failed encoded put left an object: %v", err)
	}
}

type failingWriter struct {
	w    io.Writer
	left int
	err  error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.left < len(p) {
		return 0, f.err
	}
	f.left -= len(p)
	return f.w.Write(p)
}
func (f *failingWriter) Close() error { return nil }

// When S3 refuses while the input is blocked in Read, Put returns without
// waiting for it, and does not call Progress afterwards.
func TestPutReturnsWhileTheInputBlocks(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "blocked")
	rec, ep := startRecorder(t, srv)
	c := proxiedClient(t, srv, ep, s3.Config{Concurrency: 2, MaxRetries: 1})
	rec.setRefuse(func(r recorded) (int, string) {
		if r.kind() == "part" && r.query.Get("partNumber") == "2" {
			return 403, "AccessDenied"
		}
		return 0, ""
	})
	var returned atomic.Bool
	var late atomic.Int64
	progress := func(int64) {
		if returned.Load() {
			late.Add(1)
		}
	}
	for i, opts := range []s3.PutOptions{{Progress: progress}, {Progress: progress, Encode: gzipEncode(gzip.NoCompression)}} {
		// Two parts and a half, then the input blocks inside the third.
		in := &blockingReader{data: randomBytes(2*part+part/2, uint64(i)), release: make(chan struct{})}
		returned.Store(false)
		done := make(chan error, 1)
		go func() {
			_, err := c.Put(context.Background(), b, "k", in, opts)
			returned.Store(true)
			done <- err
		}()
		var err error
		testkit.WaitFor(t, 30*time.Second, "put to return while its input blocks", func() error {
			select {
			case err = <-done:
				return nil
			default:
				return testkit.ErrNotYet
			}
		})
		if err == nil || !strings.Contains(err.Error(), "put part 2") {
			t.Fatalf("put: %v", err)
		}
		close(in.release) // the input moves again, after Put returned
		assertNothing(t, newClient(t, srv), b)
	}
	if late.Load() != 0 {
		t.Fatalf("progress called %d times after Put returned", late.Load())
	}
}

// blockingReader yields its data, then blocks until released, then
// yields a little more and ends.
type blockingReader struct {
	data    []byte
	off     int
	release chan struct{}
	after   bool
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if r.off < len(r.data) {
		n := copy(p, r.data[r.off:])
		r.off += n
		return n, nil
	}
	if r.after {
		return 0, io.EOF
	}
	<-r.release
	r.after = true
	return copy(p, r.data[:min(len(p), 1000)]), nil
}

// A get whose writer fails mid-stream returns that error, and nothing is
// written to the writer once Get has returned (the network goroutine and
// the decoder are waited for), with and without a decoder.
func TestGetStopsWritingWhenItReturns(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "stops")
	c := newClient(t, srv)
	ctx := context.Background()
	if _, err := c.Put(ctx, b, "k", onlyReader{bytes.NewReader(randomBytes(20<<20, 81))}, s3.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	copyDecode := func(_ s3.Object, r io.Reader) (io.Reader, error) { return r, nil }
	for _, opts := range []s3.GetOptions{{}, {Decode: copyDecode}} {
		w := &closingWriter{limit: 3 << 20}
		_, err := c.GetWithOptions(ctx, b, "k", w, opts)
		w.returned.Store(true)
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("get into a failing writer: %v", err)
		}
		if n := w.late.Load(); n != 0 {
			t.Fatalf("%d writes after Get returned", n)
		}
	}
}

type closingWriter struct {
	limit    int
	n        int
	returned atomic.Bool
	late     atomic.Int64
}

func (w *closingWriter) Write(p []byte) (int, error) {
	if w.returned.Load() {
		w.late.Add(1)
	}
	if w.n+len(p) > w.limit {
		return 0, errors.New("disk full")
	}
	w.n += len(p)
	return len(p), nil
}
