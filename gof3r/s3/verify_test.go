package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cronbox/gof3r/s3"
	"cronbox/testkit"

	"github.com/minio/minio-go/v7"
)

// foreignMultipart uploads parts of the given sizes the way another tool
// would: with algo's checksum per part and a checksum type of typ
// ("COMPOSITE", "FULL_OBJECT", or "" for no checksum at all).
func foreignMultipart(t *testing.T, srv *testkit.S3Server, bucket, key string, data []byte, sizes []int, algo minio.ChecksumType, typ string) {
	t.Helper()
	core := minio.Core{Client: rawClient(t, srv)}
	ctx := context.Background()
	po := minio.PutObjectOptions{UserMetadata: map[string]string{}}
	if typ != "" {
		po.UserMetadata["x-amz-checksum-algorithm"] = algo.String()
		po.UserMetadata["x-amz-checksum-type"] = typ
	}
	id, err := core.NewMultipartUpload(ctx, bucket, key, po)
	if err != nil {
		t.Fatal(err)
	}
	var parts []minio.CompletePart
	var ops []minio.ObjectPart
	off := 0
	for i, n := range sizes {
		b := data[off : off+n]
		off += n
		o := minio.PutObjectPartOptions{CustomHeader: http.Header{}}
		if typ != "" {
			o.CustomHeader.Set(algo.Key(), algo.ChecksumBytes(b).Encoded())
		}
		op, err := core.PutObjectPart(ctx, bucket, key, id, i+1, bytes.NewReader(b), int64(n), o)
		if err != nil {
			t.Fatal(err)
		}
		op.Size = int64(n)
		ops = append(ops, op)
		parts = append(parts, minio.CompletePart{PartNumber: i + 1, ETag: op.ETag, ChecksumCRC32: op.ChecksumCRC32,
			ChecksumCRC32C: op.ChecksumCRC32C, ChecksumCRC64NVME: op.ChecksumCRC64NVME, ChecksumSHA256: op.ChecksumSHA256, ChecksumSHA1: op.ChecksumSHA1})
	}
	if off != len(data) {
		t.Fatalf("sizes add up to %d, data has %d", off, len(data))
	}
	co := minio.PutObjectOptions{UserMetadata: map[string]string{}}
	switch typ {
	case "COMPOSITE":
		sum, err := algo.CompositeChecksum(ops)
		if err != nil {
			t.Fatal(err)
		}
		co.UserMetadata[algo.Key()] = fmt.Sprintf("%s-%d", sum.Encoded(), len(sizes))
		co.UserMetadata["x-amz-checksum-type"] = typ
	case "FULL_OBJECT":
		sum, err := algo.FullObjectChecksum(ops)
		if err != nil {
			t.Fatal(err)
		}
		co.UserMetadata[algo.Key()] = sum.Encoded()
		co.UserMetadata["x-amz-checksum-type"] = typ
	}
	if _, err := core.CompleteMultipartUpload(ctx, bucket, key, id, parts, co); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, srv *testkit.S3Server, bucket, key string, at int64) {
	t.Helper()
	f, err := os.OpenFile(srv.ObjectPath(bucket, key), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	one := make([]byte, 1)
	f.ReadAt(one, at)
	f.WriteAt([]byte{one[0] ^ 0x20}, at)
}

// Objects written by other tools verify against the checksum the server
// stores: composite (with parts of unequal sizes) and full-object, each
// algorithm S3 has; a flipped byte on the server's disk fails the get.
func TestGetVerifiesStoredChecksums(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "foreign")
	c := newClient(t, srv)
	ctx := context.Background()
	sizes := []int{part + 1234, part, 777}
	data := randomBytes(sizes[0]+sizes[1]+sizes[2], 21)
	for _, tc := range []struct {
		algo minio.ChecksumType
		typ  string
	}{
		{minio.ChecksumSHA256, "COMPOSITE"}, {minio.ChecksumSHA1, "COMPOSITE"}, {minio.ChecksumCRC32, "COMPOSITE"},
		{minio.ChecksumCRC32C, "COMPOSITE"}, {minio.ChecksumCRC32, "FULL_OBJECT"}, {minio.ChecksumCRC32C, "FULL_OBJECT"},
		{minio.ChecksumCRC64NVME, "FULL_OBJECT"},
	} {
		name := tc.algo.String() + "-" + tc.typ
		t.Run(name, func(t *testing.T) {
			foreignMultipart(t, srv, b, name, data, sizes, tc.algo, tc.typ)
			var got bytes.Buffer
			obj, err := c.Get(ctx, b, name, &got)
			if err != nil || !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("get: %v", err)
			}
			if obj.Checksum.Algorithm != tc.algo.String() || obj.Checksum.Type != tc.typ || (tc.typ == "COMPOSITE") != (obj.Checksum.Parts == 3) {
				t.Fatalf("checksum %+v", obj.Checksum)
			}
			flipByte(t, srv, b, name, int64(sizes[0]+10))
			if _, err := c.Get(ctx, b, name, io.Discard); !errors.Is(err, s3.ErrChecksum) || !strings.Contains(err.Error(), tc.algo.String()) {
				t.Fatalf("get of a damaged object: %v, want a %s mismatch", err, tc.algo)
			}
		})
	}
}

// Objects with no checksum at all: the .md5/KEY.md5 sidecar of s3gof3r
// when there is one; else ErrUnverified, unless the caller asks to read
// unverified.
func TestGetWithoutStoredChecksum(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "nosum")
	c := newClient(t, srv)
	raw := rawClient(t, srv)
	ctx := context.Background()
	data := randomBytes(2*part+10, 31)
	// versitygw, like AWS since 2025, gives every upload a CRC64NVME when
	// the client sends none; files put in the bucket's directory have none,
	// like objects stored before that.
	bare := func(key string) {
		t.Helper()
		if err := os.WriteFile(srv.ObjectPath(b, key), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	putSidecar := func(key, sum string) {
		t.Helper()
		if _, err := raw.PutObject(ctx, b, ".md5/"+key+".md5", strings.NewReader(sum), int64(len(sum)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sum := md5.Sum(data)

	bare("bare")
	if st, err := c.Stat(ctx, b, "bare"); err != nil || st.Verifiable() {
		t.Fatalf("stat of an object without checksum: %+v %v", st, err)
	}
	var got bytes.Buffer
	_, err := c.Get(ctx, b, "bare", &got)
	if !errors.Is(err, s3.ErrUnverified) || got.Len() != 0 || !strings.Contains(err.Error(), "not verified: no checksum recorded with the object") {
		t.Fatalf("get without any checksum: %v (%d bytes written), want ErrUnverified before any byte", err, got.Len())
	}
	if _, err := c.GetWithOptions(ctx, b, "bare", &got, s3.GetOptions{AllowMissingChecksum: true}); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("get allowing no checksum: %v", err)
	}

	bare("gof3r")
	putSidecar("gof3r", hex.EncodeToString(sum[:]))
	got.Reset()
	if _, err := c.Get(ctx, b, "gof3r", &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("get checked by the .md5 sidecar: %v", err)
	}
	flipByte(t, srv, b, "gof3r", 5)
	if _, err := c.Get(ctx, b, "gof3r", io.Discard); !errors.Is(err, s3.ErrChecksum) || !strings.Contains(err.Error(), "MD5") {
		t.Fatalf("get of a damaged object with a sidecar: %v", err)
	}
	putSidecar("gof3r", "not-an-md5")
	if _, err := c.Get(ctx, b, "gof3r", io.Discard); err == nil || !strings.Contains(err.Error(), "not an MD5") {
		t.Fatalf("get with a malformed sidecar: %v", err)
	}
}

// The sidecar Put writes is what s3gof3r reads: .md5/KEY.md5, the hex MD5
// of the object, nothing else; and Get can be asked to check it too.
func TestMD5Sidecar(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "md5")
	c := newClient(t, srv)
	ctx := context.Background()
	for _, size := range []int{10, 3*part + 3} {
		data := randomBytes(size, uint64(size))
		key := fmt.Sprintf("dir/obj-%d", size)
		obj, err := c.Put(ctx, b, key, onlyReader{bytes.NewReader(data)}, s3.PutOptions{MD5Sidecar: true})
		sum := md5.Sum(data)
		if err != nil || obj.MD5 != hex.EncodeToString(sum[:]) {
			t.Fatalf("put: %+v %v", obj, err)
		}
		side, err := os.ReadFile(srv.ObjectPath(b, ".md5/"+key+".md5"))
		if err != nil || string(side) != hex.EncodeToString(sum[:]) {
			t.Fatalf(".md5/%s.md5: %q %v", key, side, err)
		}
		if _, err := c.GetWithOptions(ctx, b, key, io.Discard, s3.GetOptions{MD5Sidecar: true}); err != nil {
			t.Fatalf("get checking the sidecar too: %v", err)
		}
	}
	// From a file (parts read in parallel; the digests by one more reader).
	data := randomBytes(3*part+5, 9)
	path := filepath.Join(t.TempDir(), "in")
	os.WriteFile(path, data, 0o600)
	f, _ := os.Open(path)
	defer f.Close()
	obj, err := c.Put(ctx, b, "file", f, s3.PutOptions{MD5Sidecar: true, SHA256: true})
	sum := md5.Sum(data)
	if err != nil || obj.MD5 != hex.EncodeToString(sum[:]) || obj.SHA256 != hexSHA(data) || obj.InputSize != int64(len(data)) {
		t.Fatalf("put of a file: %+v %v", obj, err)
	}
	if side, _ := os.ReadFile(srv.ObjectPath(b, ".md5/file.md5")); string(side) != obj.MD5 {
		t.Fatalf(".md5/file.md5: %q", side)
	}
	if _, err := c.Put(ctx, b, "plain", strings.NewReader("x"), s3.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWithOptions(ctx, b, "plain", io.Discard, s3.GetOptions{MD5Sidecar: true}); err == nil || !strings.Contains(err.Error(), ".md5/plain.md5") {
		t.Fatalf("get asking for a sidecar that is not there: %v", err)
	}
}

// Objects written before 2026-12 carry their SHA-256 as metadata (and
// versitygw added its default CRC64NVME to a single PutObject): the
// metadata is checked too.
func TestGetChecksEarlierSHA256Metadata(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "earlier")
	c := newClient(t, srv)
	ctx := context.Background()
	data := randomBytes(2*part+1, 41)
	// As the staging copy wrote them: multipart, no checksum, sha256 metadata.
	core := minio.Core{Client: rawClient(t, srv)}
	wrong := strings.Repeat("ab", 32)
	for key, sha := range map[string]string{"good": hexSHA(data), "bad": wrong} {
		id, err := core.NewMultipartUpload(ctx, b, key, minio.PutObjectOptions{UserMetadata: map[string]string{"sha256": sha}})
		if err != nil {
			t.Fatal(err)
		}
		op, err := core.PutObjectPart(ctx, b, key, id, 1, bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := core.CompleteMultipartUpload(ctx, b, key, id, []minio.CompletePart{{PartNumber: 1, ETag: op.ETag}}, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if o, err := c.Get(ctx, b, "good", io.Discard); err != nil || o.SHA256 != hexSHA(data) {
		t.Fatalf("get of an earlier object: %v", err)
	}
	if _, err := c.Get(ctx, b, "bad", io.Discard); !errors.Is(err, s3.ErrChecksum) || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("get of an earlier object whose bytes differ from its sha256: %v", err)
	}
}

func hexSHA(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
