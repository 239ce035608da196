package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// PutOptions are the optional parts of a Put.
type PutOptions struct {
	Metadata    map[string]string // user metadata (x-amz-meta-KEY), keys lower-cased
	ContentType string            // default application/octet-stream
	// Headers are other headers stored with the object: Cache-Control,
	// Content-Disposition, Content-Encoding, Content-Language, Expires,
	// x-amz-acl, x-amz-grant-*, x-amz-server-side-encryption*,
	// x-amz-storage-class, x-amz-website-redirect-location, and
	// x-amz-meta-* (the same as Metadata). Others are refused.
	Headers map[string]string
	ACL     string // a canned ACL (ParseACL), sent as x-amz-acl
	SSE     SSE    // server-side encryption
	// Lock is the object's S3 Object Lock retention (LockFor); the bucket
	// must have been created with object lock enabled.
	Lock Lock
	// SHA256 also computes the SHA-256 of the stored bytes, returned in
	// Object.SHA256 (one more pass over the data; an object that fits in
	// one part always gets it, as metadata too).
	SHA256 bool
	// MD5Sidecar also stores the hex MD5 of the object as .md5/KEY.md5,
	// where s3gof3r's gof3r looks for it, once the object is complete.
	MD5Sidecar bool
	// Encode, when set, transforms the input before it is stored
	// (compression, encryption): Put copies the input into Encode(w) and
	// stores what comes out on w, closing the encoder at the end of the
	// input. Checksums, Size and SHA256 are of the stored bytes; InputSize
	// counts the bytes read before encoding. An encoder error fails the
	// Put like an input error (nothing is stored).
	Encode func(w io.Writer) (io.WriteCloser, error)
	// Progress is called with the bytes read from the input so far; never
	// after Put has returned.
	Progress func(bytesSoFar int64)
}

// checksumAlgo is the checksum every object Put writes carries, checked by
// the server on each part and, as FULL_OBJECT, on the whole object at
// completion: unlike SHA-256, a CRC of the whole object can be combined
// from the parts' CRCs, so it needs no second pass over the data, and S3
// accepts it as a whole-object checksum of a multipart upload.
const checksumAlgo = minio.ChecksumCRC64NVME

// Put streams r (unknown size) to bucket/key with memory bounded by part
// size x concurrency. See the package doc for the checksums and why
// nothing incomplete ever appears under key. If r fails, ctx is cancelled,
// or S3 refuses a request beyond the retry budget, the multipart upload is
// aborted. When ctx is cancelled while r blocks in Read, Put returns
// without waiting for that Read (the goroutine blocked in it touches
// nothing of Put's once it returns).
func (c *Client) Put(ctx context.Context, bucket, key string, r io.Reader, opts PutOptions) (Object, error) {
	hdr, err := objectHeaders(opts)
	if err != nil {
		return Object{}, opErr("put", bucket, key, err)
	}
	if key == "" {
		return Object{}, opErr("put", bucket, key, errors.New("empty key"))
	}
	if err := c.checkSSE(opts.SSE); err != nil {
		return Object{}, opErr("put", bucket, key, err)
	}
	if opts.Lock.Mode != "" {
		if err := c.checkObjectLock(ctx, bucket); err != nil {
			return Object{}, opErr("put", bucket, key, err)
		}
	}
	p := &putJob{c: c, bucket: bucket, key: key, hdr: hdr, opts: opts, progress: newProgressGate(opts.Progress)}
	defer p.progress.stop()
	p.log = c.cfg.Logger.With("bucket", bucket, "key", key)
	if f, ok := r.(fileSource); ok && opts.Encode == nil {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if off, err := f.Seek(0, io.SeekCurrent); err == nil && st.Size()-off > c.cfg.PartSize {
				return p.file(ctx, f, off, st)
			}
		}
	}
	return p.stream(ctx, r)
}

// putJob is one Put: what it writes and how. Put picks the strategy: a
// regular file is sent from where it lies (put_file.go); anything else is
// a stream (put_stream.go), stored with one request when it fits in one
// part (put_single.go). Both multipart strategies share multipart.go.
type putJob struct {
	c           *Client
	bucket, key string
	hdr         map[string]string
	opts        PutOptions
	progress    *progressGate
	log         *slog.Logger
}

func (p *putJob) fail(op string, err error) (Object, error) {
	return Object{}, opErr(op, p.bucket, p.key, err)
}

// createOptions are the options of the request that creates the object
// (PutObject or CreateMultipartUpload).
func (p *putJob) createOptions() minio.PutObjectOptions {
	po := minio.PutObjectOptions{UserMetadata: map[string]string{}, DisableContentSha256: true, DisableMultipart: true}
	applyWriteOptions(&po, p.hdr, p.opts)
	return po
}

func (p *putJob) result(size int64, sum Checksum, info minio.UploadInfo) Object {
	o := Object{
		Bucket: p.bucket, Key: p.key, Size: size, Checksum: sum, ETag: info.ETag, VersionID: info.VersionID,
		LastModified: time.Now(), Metadata: map[string]string{}, Lock: p.opts.Lock, SSE: p.opts.SSE.Mode,
	}
	for k, v := range p.hdr {
		if m, ok := strings.CutPrefix(k, "x-amz-meta-"); ok {
			o.Metadata[m] = v
		}
		if k == "content-type" {
			o.ContentType = v
		}
	}
	return o
}

// finish records the whole-object digests computed on request, and writes
// the .md5 sidecar when asked to.
func (p *putJob) finish(ctx context.Context, o Object, d digests) (Object, error) {
	if d.sha256 != nil {
		o.SHA256 = hex.EncodeToString(d.sha256)
	}
	if !p.opts.MD5Sidecar {
		return o, nil
	}
	sum := hex.EncodeToString(d.md5)
	po := minio.PutObjectOptions{UserMetadata: map[string]string{}, DisableContentSha256: true, DisableMultipart: true}
	applyWriteOptions(&po, map[string]string{"content-type": "text/plain"}, PutOptions{ACL: p.opts.ACL, SSE: p.opts.SSE, Lock: p.opts.Lock})
	body := []byte(sum)
	crc := checksumAlgo.ChecksumBytes(body)
	po.UserMetadata[checksumAlgo.Key()] = crc.Encoded()
	sk := md5SidecarKey(p.key)
	shaBody := sha256.Sum256(body)
	if _, err := p.c.core.PutObject(ctx, p.bucket, sk, bytes.NewReader(body), int64(len(body)), "", hex.EncodeToString(shaBody[:]), po); err != nil {
		return o, opErr("put (the object is stored; its MD5 sidecar is not)", p.bucket, sk, err)
	}
	o.MD5 = sum
	return o, nil
}

// md5SidecarKey is where s3gof3r keeps an object's hex MD5.
func md5SidecarKey(key string) string { return ".md5/" + key + ".md5" }

// CheckObjectLock says whether bucket can keep objects locked (object lock
// enabled), before anything is written; nil also when the configuration
// cannot be read (the put's own answer then decides). Callers use it to
// refuse a lock setting at start.
func (c *Client) CheckObjectLock(ctx context.Context, bucket string) error {
	return c.checkObjectLock(ctx, bucket)
}

// checkObjectLock refuses a lock on a bucket without object lock before
// anything is written: versitygw stores a PutObject and only then refuses
// its lock. Without the permission to read the bucket's configuration, the
// server's answer to the put decides (see explainLock).
func (c *Client) checkObjectLock(ctx context.Context, bucket string) error {
	enabled, _, _, _, err := c.core.Client.GetObjectLockConfig(ctx, bucket)
	if err != nil {
		r := minio.ToErrorResponse(err)
		if r.Code == "ObjectLockConfigurationNotFoundError" || r.Code == "ObjectLockConfigurationNotFound" {
			return fmt.Errorf("bucket %s was not created with object lock enabled, so it cannot keep objects locked", bucket)
		}
		return nil
	}
	if enabled != "Enabled" {
		return fmt.Errorf("bucket %s does not have object lock enabled (%q), so it cannot keep objects locked", bucket, enabled)
	}
	return nil
}

// explainLock adds what to do to S3's answer to a lock on a bucket
// without object lock ("Bucket is missing Object Lock Configuration").
func (p *putJob) explainLock(op string, err error) error {
	err = opErr(op, p.bucket, p.key, err)
	var e *Error
	if p.opts.Lock.Mode != "" && errors.As(err, &e) {
		if m := strings.ToLower(strings.ReplaceAll(e.Message, " ", "")); strings.Contains(m, "objectlockconfiguration") {
			e.Message += fmt.Sprintf(": bucket %s was not created with object lock enabled, so it cannot keep objects locked", p.bucket)
		}
	}
	return err
}

// AllowedHeader says whether a header (any case) may be stored with an
// object through PutOptions.Headers.
func AllowedHeader(name string) bool {
	k := strings.ToLower(strings.TrimSpace(name))
	switch k {
	case "content-type", "cache-control", "content-disposition", "content-encoding", "content-language", "expires",
		"x-amz-acl", "x-amz-storage-class", "x-amz-website-redirect-location":
		return true
	}
	return strings.HasPrefix(k, "x-amz-meta-") || strings.HasPrefix(k, "x-amz-grant-") || strings.HasPrefix(k, "x-amz-server-side-encryption")
}

// objectHeaders merges the options into one map of lower-case header names.
func objectHeaders(opts PutOptions) (map[string]string, error) {
	h := map[string]string{}
	for k, v := range opts.Headers {
		lk := strings.ToLower(strings.TrimSpace(k))
		if !AllowedHeader(lk) {
			return nil, fmt.Errorf("header %q cannot be stored with an object", k)
		}
		if strings.HasPrefix(lk, "x-amz-server-side-encryption") && opts.SSE.Mode != "" {
			return nil, fmt.Errorf("header %q and SSE %s both set the encryption: use one", k, opts.SSE)
		}
		if lk == "x-amz-acl" && opts.ACL != "" && !strings.EqualFold(strings.TrimSpace(v), opts.ACL) {
			return nil, fmt.Errorf("header %q and ACL %s disagree", k, opts.ACL)
		}
		h[lk] = strings.TrimSpace(v)
	}
	for k, v := range opts.Metadata {
		h["x-amz-meta-"+strings.ToLower(k)] = v
	}
	if opts.ContentType != "" {
		h["content-type"] = opts.ContentType
	}
	if _, ok := h["x-amz-meta-"+MetaSHA256]; ok {
		return nil, fmt.Errorf("metadata %q is reserved for the object's checksum", MetaSHA256)
	}
	if err := opts.SSE.validate(); err != nil {
		return nil, err
	}
	if err := opts.Lock.validate(); err != nil {
		return nil, err
	}
	if opts.ACL != "" {
		if _, err := ParseACL(opts.ACL); err != nil {
			return nil, fmt.Errorf("ACL %q: %w", opts.ACL, err)
		}
	}
	return h, nil
}

// wholeHashes are the digests of the whole stored object that Put
// computes on request (PutOptions.SHA256, PutOptions.MD5Sidecar).
type wholeHashes struct{ sha, md5 hash.Hash }

// digests are their values.
type digests struct{ sha256, md5 []byte }

// newWholeHashes returns nil when none is asked for.
func (p *putJob) newWholeHashes() *wholeHashes {
	if !p.opts.SHA256 && !p.opts.MD5Sidecar {
		return nil
	}
	w := &wholeHashes{}
	if p.opts.SHA256 {
		w.sha = sha256.New()
	}
	if p.opts.MD5Sidecar {
		w.md5 = md5.New()
	}
	return w
}

func (w *wholeHashes) Write(b []byte) (int, error) {
	if w.sha != nil {
		w.sha.Write(b)
	}
	if w.md5 != nil {
		w.md5.Write(b)
	}
	return len(b), nil
}

func (w *wholeHashes) sums() digests {
	var d digests
	if w == nil {
		return d
	}
	if w.sha != nil {
		d.sha256 = w.sha.Sum(nil)
	}
	if w.md5 != nil {
		d.md5 = w.md5.Sum(nil)
	}
	return d
}

// progressGate passes progress to the caller's callback until stopped:
// Put may return while a reader goroutine is still blocked in the input,
// and the callback must not hear from it afterwards.
type progressGate struct {
	mu      sync.Mutex
	f       func(int64)
	stopped bool
}

func newProgressGate(f func(int64)) *progressGate { return &progressGate{f: f} }

func (g *progressGate) update(n int64) {
	if g.f == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		g.f(n)
	}
}

func (g *progressGate) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}
