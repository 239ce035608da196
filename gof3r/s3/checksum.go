package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"
)

// Checksum is the checksum S3 stores with an object (x-amz-checksum-*),
// as HEAD and GET report it when asked (x-amz-checksum-mode: ENABLED).
type Checksum struct {
	Algorithm string // CRC32, CRC32C, CRC64NVME, SHA1 or SHA256
	Type      string // FULL_OBJECT: of the whole object; COMPOSITE: of the parts' checksums
	Value     string // base64, as S3 sends it, without a composite's "-N"
	Parts     int    // COMPOSITE: the number of parts
}

const (
	fullObject = "FULL_OBJECT"
	composite  = "COMPOSITE"
)

// IsSet says whether the object has a stored checksum.
func (c Checksum) IsSet() bool { return c.Value != "" }

func (c Checksum) String() string {
	if !c.IsSet() {
		return "none"
	}
	if c.Type == composite {
		return fmt.Sprintf("%s %s %s-%d", c.Algorithm, c.Type, c.Value, c.Parts)
	}
	return fmt.Sprintf("%s %s %s", c.Algorithm, c.Type, c.Value)
}

// checksumTypes are the algorithms S3 stores, in the order a HEAD's
// headers are looked at.
var checksumTypes = []minio.ChecksumType{
	minio.ChecksumCRC64NVME, minio.ChecksumCRC32C, minio.ChecksumCRC32, minio.ChecksumSHA256, minio.ChecksumSHA1,
}

func checksumType(algorithm string) (minio.ChecksumType, bool) {
	for _, t := range checksumTypes {
		if t.String() == algorithm {
			return t, true
		}
	}
	return minio.ChecksumNone, false
}

// checksumFrom reads the stored checksum from a HEAD or GET response.
func checksumFrom(h http.Header) Checksum {
	for _, t := range checksumTypes {
		v := h.Get(t.Key())
		if v == "" {
			continue
		}
		c := Checksum{Algorithm: t.String(), Type: strings.ToUpper(h.Get("X-Amz-Checksum-Type")), Value: v}
		if val, n, ok := strings.Cut(v, "-"); ok {
			if parts, err := strconv.Atoi(n); err == nil && parts > 0 {
				c.Value, c.Parts, c.Type = val, parts, composite
			}
		}
		if c.Type == "" {
			c.Type = fullObject
		}
		return c
	}
	return Checksum{}
}

// verifier checks one recorded checksum against the bytes as they stream.
type verifier interface {
	io.Writer
	verify() error // at the end of the stream
}

// wholeVerifier checks a digest of the whole object.
type wholeVerifier struct {
	hash.Hash
	what, recorded string // e.g. "SHA-256", as recorded (hex or base64)
	encode         func([]byte) string
}

func (v *wholeVerifier) verify() error {
	if got := v.encode(v.Sum(nil)); got != v.recorded {
		return fmt.Errorf("%w: %s of the bytes read is %s, the object records %s", ErrChecksum, v.what, got, v.recorded)
	}
	return nil
}

// compositeVerifier checks a COMPOSITE checksum: the checksum of the
// concatenated checksums of the parts, whose sizes it is given.
type compositeVerifier struct {
	t     minio.ChecksumType
	sizes []int64
	sum   Checksum
	cur   hash.Hash
	part  int   // index into sizes of the part being hashed
	left  int64 // bytes still due in it
	sums  []byte
}

func newCompositeVerifier(t minio.ChecksumType, sum Checksum, sizes []int64) *compositeVerifier {
	v := &compositeVerifier{t: t, sizes: sizes, sum: sum, cur: t.Hasher()}
	if len(sizes) > 0 {
		v.left = sizes[0]
	}
	return v
}

func (v *compositeVerifier) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if v.part >= len(v.sizes) {
			return n, fmt.Errorf("%w: more bytes than the %d parts hold", ErrChecksum, len(v.sizes))
		}
		k := min(int64(len(p)), v.left)
		v.cur.Write(p[:k])
		p, v.left = p[k:], v.left-k
		if v.left == 0 {
			v.endPart()
		}
	}
	return n, nil
}

func (v *compositeVerifier) endPart() {
	v.sums = v.cur.Sum(v.sums)
	v.cur.Reset()
	v.part++
	if v.part < len(v.sizes) {
		v.left = v.sizes[v.part]
	}
}

func (v *compositeVerifier) verify() error {
	if v.part != len(v.sizes) {
		return fmt.Errorf("%w: the stream ended in part %d of %d", ErrChecksum, v.part+1, len(v.sizes))
	}
	h := v.t.Hasher()
	h.Write(v.sums)
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != v.sum.Value {
		return fmt.Errorf("%w: %s of the parts' %s checksums is %s-%d, the object records %s-%d",
			ErrChecksum, v.sum.Algorithm, v.sum.Algorithm, got, len(v.sizes), v.sum.Value, v.sum.Parts)
	}
	return nil
}

// verifiers decides what Get checks for obj: the server's checksum and
// the SHA-256 an earlier Put recorded, each when present; the .md5
// sidecar of s3gof3r only when neither is. No verifier at all and an
// empty description mean nothing is recorded.
func (c *Client) verifiers(ctx context.Context, obj Object, opts GetOptions) ([]verifier, string, error) {
	var vs []verifier
	var what []string
	if obj.SHA256 != "" {
		vs = append(vs, &wholeVerifier{Hash: sha256.New(), what: "SHA-256", recorded: strings.ToLower(obj.SHA256), encode: hex.EncodeToString})
		what = append(what, "sha256 metadata")
	}
	if obj.Checksum.IsSet() {
		t, ok := checksumType(obj.Checksum.Algorithm)
		switch {
		case !ok:
		case obj.Checksum.Type == composite:
			sizes, err := c.partSizes(ctx, obj, opts)
			if err != nil {
				return nil, "", err
			}
			vs = append(vs, newCompositeVerifier(t, obj.Checksum, sizes))
			what = append(what, obj.Checksum.String())
		default:
			vs = append(vs, &wholeVerifier{Hash: t.Hasher(), what: obj.Checksum.Algorithm, recorded: obj.Checksum.Value, encode: base64.StdEncoding.EncodeToString})
			what = append(what, obj.Checksum.String())
		}
	}
	// The sidecar describes the current version only (as in s3gof3r).
	if opts.MD5Sidecar || (len(vs) == 0 && !opts.AllowMissingChecksum && opts.VersionID == "") {
		sum, err := c.md5Sidecar(ctx, obj.Bucket, obj.Key, opts.SSE)
		if err != nil {
			return nil, "", err
		}
		if sum == "" && opts.MD5Sidecar {
			return nil, "", opErr("get", obj.Bucket, obj.Key, fmt.Errorf("not verified: there is no %s to check the object against", md5SidecarKey(obj.Key)))
		}
		if sum != "" {
			vs = append(vs, &wholeVerifier{Hash: md5.New(), what: "MD5", recorded: sum, encode: hex.EncodeToString})
			what = append(what, "MD5 in "+md5SidecarKey(obj.Key))
		}
	}
	return vs, strings.Join(what, ", "), nil
}

// md5Sidecar reads s3gof3r's .md5/KEY.md5; "" when there is none.
func (c *Client) md5Sidecar(ctx context.Context, bucket, key string, sse SSE) (string, error) {
	sk := md5SidecarKey(key)
	o := minio.GetObjectOptions{ServerSideEncryption: sse.forRead()}
	rc, _, _, err := c.core.GetObject(ctx, bucket, sk, o)
	if err != nil {
		if errors.Is(opErr("get", bucket, sk, err), ErrNotFound) {
			return "", nil
		}
		return "", opErr("get", bucket, sk, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1024))
	if err != nil {
		return "", opErr("get", bucket, sk, err)
	}
	sum := strings.ToLower(string(bytes.TrimSpace(b)))
	if d, err := hex.DecodeString(sum); err != nil || len(d) != md5.Size {
		return "", opErr("get", bucket, sk, fmt.Errorf("not an MD5 in hex: %q", b[:min(len(b), 40)]))
	}
	return sum, nil
}

// partSizes asks the server for the size of each part of a multipart
// object (HEAD ?partNumber=N), which a COMPOSITE checksum needs.
func (c *Client) partSizes(ctx context.Context, obj Object, opts GetOptions) ([]int64, error) {
	n := obj.Checksum.Parts
	if n < 1 || n > maxParts {
		return nil, opErr("get", obj.Bucket, obj.Key, fmt.Errorf("composite checksum of %d parts", n))
	}
	sizes := make([]int64, n)
	next := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range min(c.cfg.Concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				o := minio.StatObjectOptions{PartNumber: i + 1, VersionID: obj.VersionID, ServerSideEncryption: opts.SSE.forRead()}
				oi, err := c.core.StatObject(ctx, obj.Bucket, obj.Key, o)
				if err != nil {
					errs <- opErr(fmt.Sprintf("stat part %d", i+1), obj.Bucket, obj.Key, err)
					return
				}
				sizes[i] = oi.Size
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case err := <-errs:
			errs <- err
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	var total int64
	for _, s := range sizes {
		total += s
	}
	if total != obj.Size {
		return nil, opErr("get", obj.Bucket, obj.Key, fmt.Errorf("its %d parts add up to %d bytes, the object has %d", n, total, obj.Size))
	}
	return sizes, nil
}
