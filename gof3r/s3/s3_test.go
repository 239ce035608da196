package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"cronbox/gof3r/s3"
	"cronbox/testkit"

	"github.com/minio/minio-go/v7"
)

const part = 5 << 20 // the smallest part size S3 allows, to keep boundary cases small

func newClient(t *testing.T, srv *testkit.S3Server) *s3.Client {
	t.Helper()
	c, err := s3.New(s3.Config{
		Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		PartSize: part, Concurrency: 3, StallTimeout: 20 * time.Second, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// onlyReader hides bytes.Reader's other methods: Put must not depend on
// knowing the size.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestPutGetRoundTrip(t *testing.T) {
	srv := testkit.Versitygw(t)
	c := newClient(t, srv)
	ctx := context.Background()
	for _, bucket := range []string{"plain", "with.dots.in.it"} {
		srv.Bucket(t, bucket)
		for _, tc := range []struct {
			name string
			size int
		}{
			{"empty", 0}, {"one-byte", 1}, {"part-minus-one", part - 1}, {"exactly-one-part", part},
			{"part-plus-one", part + 1}, {"three-parts-and-a-bit", 3*part + 12345},
		} {
			t.Run(bucket+"/"+tc.name, func(t *testing.T) {
				data := randomBytes(tc.size, uint64(tc.size))
				key := "dir/" + tc.name
				obj, err := c.Put(ctx, bucket, key, onlyReader{bytes.NewReader(data)}, s3.PutOptions{Metadata: map[string]string{"Origin": "test"}})
				if err != nil {
					t.Fatal(err)
				}
				want := sha256.Sum256(data)
				wantSHA := "" // known before the upload only when it fits in one part
				if tc.size <= part {
					wantSHA = hex.EncodeToString(want[:])
				}
				crc := minio.ChecksumCRC64NVME.ChecksumBytes(data).Encoded()
				if obj.SHA256 != wantSHA || obj.Size != int64(tc.size) || obj.InputSize != int64(tc.size) || obj.Checksum != (s3.Checksum{Algorithm: "CRC64NVME", Type: "FULL_OBJECT", Value: crc}) {
					t.Fatalf("put returned %+v, want size %d sha %q CRC64NVME %s", obj, tc.size, wantSHA, crc)
				}
				var got bytes.Buffer
				gobj, err := c.Get(ctx, bucket, key, &got)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), data) {
					t.Fatalf("get returned %d bytes that differ from the %d put", got.Len(), len(data))
				}
				if gobj.SHA256 != obj.SHA256 || gobj.Checksum != obj.Checksum || gobj.Metadata["origin"] != "test" {
					t.Fatalf("get object %+v: want sha %q, checksum %s and metadata origin=test", gobj, obj.SHA256, obj.Checksum)
				}
				list, err := c.List(ctx, bucket, key)
				if err != nil || len(list) != 1 || list[0].Key != key {
					t.Fatalf("list %s: %v %+v, want only the key (no staging object)", key, err, list)
				}
				ups, err := c.ListMultipartUploads(ctx, bucket, "")
				if err != nil || len(ups) != 0 {
					t.Fatalf("multipart uploads left: %v %v", ups, err)
				}
			})
		}
	}
}

func TestGetDetectsCorruptionOnDisk(t *testing.T) {
	srv := testkit.Versitygw(t)
	c := newClient(t, srv)
	ctx := context.Background()
	b := srv.Bucket(t, "corrupt")
	for _, size := range []int{1000, 2*part + 7} {
		data := randomBytes(size, 7)
		key := "obj"
		if _, err := c.Put(ctx, b, key, bytes.NewReader(data), s3.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(srv.ObjectPath(b, key), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{data[size/2] ^ 0xff}, int64(size/2)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, err = c.Get(ctx, b, key, io.Discard)
		if !errors.Is(err, s3.ErrChecksum) {
			t.Fatalf("size %d: get of a corrupted object: %v, want ErrChecksum", size, err)
		}
	}
}

// A reader that fails mid-stream must leave nothing: no object, no upload.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

func TestPutFailureLeavesNothing(t *testing.T) {
	srv := testkit.Versitygw(t)
	c := newClient(t, srv)
	b := srv.Bucket(t, "atomic")
	boom := errors.New("boom")
	_, err := c.Put(context.Background(), b, "k", &failingReader{n: 3*part + 5, err: boom}, s3.PutOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("put: %v, want the reader's error", err)
	}
	assertNothing(t, c, b)

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		pw.Write(make([]byte, 2*part+1)) // then block: the stream is still open
		cancel()
	}()
	_, err = c.Put(ctx, b, "k", pr, s3.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("put cancelled: %v", err)
	}
	assertNothing(t, c, b)
	pw.Close()
}

func assertNothing(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	ctx := context.Background()
	ups, err := c.ListMultipartUploads(ctx, bucket, "")
	if err != nil || len(ups) != 0 {
		t.Fatalf("multipart uploads left: %v %v", ups, err)
	}
	objs, err := c.List(ctx, bucket, "")
	if err != nil || len(objs) != 0 {
		t.Fatalf("objects left: %+v %v", objs, err)
	}
}

func TestErrorsNameTheObjectAndServerCode(t *testing.T) {
	srv := testkit.Versitygw(t)
	ctx := context.Background()
	b := srv.Bucket(t, "errs")
	c := newClient(t, srv)
	_, err := c.Get(ctx, "no-such-bucket", "k", io.Discard)
	if !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("missing bucket: %v, want ErrNotFound", err)
	}
	t.Log(err)
	_, err = c.Get(ctx, b, "missing", io.Discard)
	if !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err = c.Stat(ctx, b, "missing"); !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("stat of a missing key: %v", err)
	}
	if _, err = c.List(ctx, "no-such-bucket", ""); !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("list of a missing bucket: %v", err)
	}
	bad, _ := s3.New(s3.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: "wrong-secret"})
	_, err = bad.Put(ctx, b, "k", bytes.NewReader([]byte("x")), s3.PutOptions{})
	var se *s3.Error
	if !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("wrong secret: %v, want a 403 s3.Error", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("wrong-secret")) {
		t.Fatalf("error shows the secret: %v", err)
	}
	t.Log(err)
}
