// Package s3 streams objects to and from S3 and S3-compatible servers
// (AWS, MinIO, Ceph RGW, versitygw, R2, B2) with bounded memory and
// checked integrity. It is the engine of the gof3r command and the library
// other cronbox tools upload their backups with.
//
// Integrity uses S3's own checksums, which the server checks:
//   - every part carries its CRC64NVME (x-amz-checksum-crc64nvme, a signed
//     header); the server refuses a part that does not match (over plain
//     http the part is also signed with its SHA-256);
//   - a multipart upload declares a FULL_OBJECT CRC64NVME when it starts
//     and sends the whole object's CRC, combined from the parts', with
//     CompleteMultipartUpload: the server refuses to create an object
//     (BadDigest) whose bytes differ from the stream Put read;
//   - a single PutObject (input that fits in one part) carries the same
//     CRC64NVME, and the SHA-256 as metadata (x-amz-meta-sha256), as all
//     objects written before 2026-12 did;
//   - Get asks for the stored checksum (x-amz-checksum-mode: ENABLED),
//     recomputes it while streaming (CRC32, CRC32C, CRC64NVME, SHA-1 or
//     SHA-256, full-object or composite) and the recorded SHA-256 metadata
//     when there is one, and fails with ErrChecksum on a mismatch; an
//     object with neither (written by another tool) is checked against
//     s3gof3r's .md5/KEY.md5 when present, and refused with ErrUnverified
//     otherwise unless GetOptions.AllowMissingChecksum.
//
// Nothing relies on ETag == MD5, which SSE-KMS and multipart uploads break.
//
// Atomicity: an object appears under its key only complete and checked. A
// multipart upload only becomes an object when completed, the completion
// is checked as above, and every failure (the input, a part refused
// beyond the retries, a refused completion, a cancelled context) aborts
// it. No staging key and no server-side copy are involved (versions before
// 2026-12 used KEY.gof3r-staging.RANDOM; List still hides such leftovers).
package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MetaSHA256 is the user-metadata key (without x-amz-meta-) under which
// Put records the hex SHA-256 of an object that fits in one part (and
// earlier versions of every object).
const MetaSHA256 = "sha256"

// stagingMark separates a key from the random suffix of the staging keys
// that versions before 2026-12 uploaded streams to.
const stagingMark = ".gof3r-staging."

var (
	// ErrChecksum: the object's bytes do not match a checksum recorded
	// with it.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrUnverified: the object has no checksum at all to check it with.
	ErrUnverified = errors.New("not verified: no checksum recorded with the object")
	// ErrNotFound is wrapped by errors for a missing key or bucket.
	ErrNotFound = errors.New("not found")
	// ErrLocked is wrapped by Remove's error when S3 refused because the
	// object is under an Object Lock retention or legal hold.
	ErrLocked = errors.New("object locked")
)

// Client talks to one S3 server. It is safe for concurrent use.
type Client struct {
	cfg    Config
	core   minio.Core
	secure bool
	host   string
}

// New checks cfg and returns a client; it does not contact the server.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	secure, host, _ := cfg.endpointURL()
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	} else {
		creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	}
	mc, err := minio.New(host, &minio.Options{
		Creds:      creds,
		Secure:     secure,
		Region:     cfg.Region,
		Transport:  newTransport(cfg),
		MaxRetries: cfg.MaxRetries,
		BucketLookupViaURL: func(u url.URL, bucket string) minio.BucketLookupType {
			if cfg.usePathStyle(u.Host, bucket) {
				return minio.BucketLookupPath
			}
			return minio.BucketLookupDNS
		},
	})
	if err != nil {
		return nil, fmt.Errorf("s3: endpoint %s: %w", host, err)
	}
	return &Client{cfg: cfg, core: minio.Core{Client: mc}, secure: secure, host: host}, nil
}

// checkSSE refuses to send an SSE-C key in clear text (S3 itself refuses
// SSE-C over http), except to a server on this machine's loopback.
func (c *Client) checkSSE(sse SSE) error {
	if err := sse.validate(); err != nil {
		return err
	}
	if sse.Mode != SSEC || c.secure {
		return nil
	}
	h := c.host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	if ip := net.ParseIP(strings.Trim(h, "[]")); (ip != nil && ip.IsLoopback()) || h == "localhost" {
		return nil
	}
	return fmt.Errorf("SSE-C over plain http would send the key in clear text to %s: use https", c.host)
}

// Endpoint is the server's scheme://host[:port], as resolved from Config.
func (c *Client) Endpoint() string {
	secure, host, _ := c.cfg.endpointURL()
	if secure {
		return "https://" + host
	}
	return "http://" + host
}

// Region is the region requests are signed for, as resolved from Config.
func (c *Client) Region() string { return c.cfg.Region }

// Object describes a stored object.
type Object struct {
	Bucket, Key  string
	VersionID    string // "" unless the bucket keeps versions
	Size         int64  // stored bytes
	SHA256       string // hex SHA-256: recorded as metadata (x-amz-meta-sha256; "" if none, and in List), or computed by Put (PutOptions.SHA256)
	Checksum     Checksum
	MD5          string // Put: the hex MD5 written to the .md5 sidecar, when asked for
	ETag         string
	LastModified time.Time
	ContentType  string
	Metadata     map[string]string // user metadata: lower-case keys without x-amz-meta-
	Lock         Lock              // Object Lock state (Stat, Get: as far as the caller may see it)
	SSE          string            // server-side encryption: AES256, aws:kms, SSE-C or ""
	InputSize    int64             // Put: bytes read from the input (before PutOptions.Encode)
}

// Verifiable says whether Get can check the object's bytes against a
// checksum stored with it (a COMPOSITE one costs a HEAD per part). The
// .md5 sidecar of s3gof3r is not looked at: it is another object.
func (o Object) Verifiable() bool {
	if o.SHA256 != "" {
		return true
	}
	_, ok := checksumType(o.Checksum.Algorithm)
	return o.Checksum.IsSet() && ok
}

func objectFrom(bucket string, oi minio.ObjectInfo, h http.Header) Object {
	o := Object{
		Bucket: bucket, Key: oi.Key, Size: oi.Size, ETag: oi.ETag, VersionID: oi.VersionID,
		LastModified: oi.LastModified, ContentType: oi.ContentType,
		Metadata: map[string]string{},
	}
	if h == nil {
		// StatObject keeps only some headers in Metadata (user metadata,
		// lock, SSE); the checksums are in fields of their own.
		h = oi.Metadata.Clone()
		for _, t := range checksumTypes {
			if v := oi.Checksum(t); v != "" {
				h.Set(t.Key(), v)
			}
		}
		h.Set("X-Amz-Checksum-Type", oi.ChecksumMode)
	}
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-meta-") && len(v) > 0 {
			o.Metadata[strings.TrimPrefix(lk, "x-amz-meta-")] = v[0]
		}
	}
	o.SHA256 = o.Metadata[MetaSHA256]
	o.Checksum = checksumFrom(h)
	o.Lock = lockFrom(h)
	o.SSE = h.Get("X-Amz-Server-Side-Encryption")
	if o.SSE == "" && h.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "" {
		o.SSE = SSEC
	}
	return o
}

// StatOptions are the optional parts of a Stat.
type StatOptions struct {
	VersionID string // a version other than the current one
	SSE       SSE    // SSE-C: the key the object was written with
}

// Stat returns the object's size, metadata, stored checksum and lock
// without its bytes.
func (c *Client) Stat(ctx context.Context, bucket, key string) (Object, error) {
	return c.StatWithOptions(ctx, bucket, key, StatOptions{})
}

// StatWithOptions is Stat with options.
func (c *Client) StatWithOptions(ctx context.Context, bucket, key string, opts StatOptions) (Object, error) {
	if err := c.checkSSE(opts.SSE); err != nil {
		return Object{}, opErr("stat", bucket, key, err)
	}
	o := minio.StatObjectOptions{VersionID: opts.VersionID, ServerSideEncryption: opts.SSE.forRead()}
	o.Set("x-amz-checksum-mode", "ENABLED")
	oi, err := c.core.StatObject(ctx, bucket, key, o)
	if err != nil {
		return Object{}, opErr("stat", bucket, key, err)
	}
	return objectFrom(bucket, oi, nil), nil
}

// List returns the objects under prefix, sorted by key, without the
// staging objects of uploads in progress (their SHA256 and Metadata are
// empty: S3 listings do not carry metadata).
func (c *Client) List(ctx context.Context, bucket, prefix string) ([]Object, error) {
	var out []Object
	for oi := range c.core.Client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, opErr("list", bucket, prefix+"*", oi.Err)
		}
		if strings.Contains(oi.Key, stagingMark) {
			continue
		}
		out = append(out, Object{Bucket: bucket, Key: oi.Key, Size: oi.Size, ETag: oi.ETag, LastModified: oi.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Remove deletes the object. Removing a key that does not exist succeeds,
// as in S3; a missing bucket is an error wrapping ErrNotFound. When S3
// refuses because the object is locked, the error wraps ErrLocked and says
// until when.
func (c *Client) Remove(ctx context.Context, bucket, key string) error {
	return c.RemoveWithOptions(ctx, bucket, key, RemoveOptions{})
}

// RemoveOptions are the optional parts of a Remove.
type RemoveOptions struct {
	VersionID string // remove this version (a versioned bucket keeps the others)
}

// RemoveWithOptions is Remove with options.
func (c *Client) RemoveWithOptions(ctx context.Context, bucket, key string, opts RemoveOptions) error {
	err := c.core.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: opts.VersionID})
	if err == nil {
		return nil
	}
	err = opErr("remove", bucket, key, err)
	var e *Error
	if errors.As(err, &e) && e.Code == "AccessDenied" {
		// S3 says AccessDenied for a lock and for a missing permission
		// alike: the object's lock tells them apart (and S3's message,
		// "Access Denied because object protected by object lock", when
		// a HEAD of a version does not show its lock, as on versitygw).
		o, serr := c.StatWithOptions(ctx, bucket, key, StatOptions{VersionID: opts.VersionID})
		switch {
		case serr == nil && o.Lock.Active(time.Now()):
			e.Message = strings.TrimSuffix(e.Message, ".") + ": the object is locked (" + o.Lock.String() + ")"
			e.locked = true
		case strings.Contains(strings.ToLower(e.Message), "object lock"):
			e.locked = true
		}
	}
	return err
}

// ListMultipartUploads returns the keys under prefix that have unfinished
// multipart uploads (staging keys included), sorted.
func (c *Client) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	keyMarker, idMarker := "", ""
	for {
		res, err := c.core.ListMultipartUploads(ctx, bucket, prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, opErr("list multipart uploads", bucket, prefix+"*", err)
		}
		for _, u := range res.Uploads {
			keys = append(keys, u.Key)
		}
		if !res.IsTruncated || (res.NextKeyMarker == "" && res.NextUploadIDMarker == "") {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	sort.Strings(keys)
	return keys, nil
}

// ParseURL splits "s3://bucket/key" into its bucket and key.
func ParseURL(u string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3://bucket/key URL", u)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return "", "", fmt.Errorf("%q: want s3://bucket/key with both parts", u)
	}
	return bucket, key, nil
}

// Error is what every failed operation returns: the operation, the object,
// and the server's code and message (or the transport error).
type Error struct {
	Op, Bucket, Key string
	Status          int    // HTTP status, 0 if the server never answered
	Code, Message   string // the server's error code and message
	Err             error
	locked          bool
}

func (e *Error) Error() string {
	where := "s3://" + e.Bucket
	if e.Key != "" {
		where += "/" + e.Key
	}
	if e.Code != "" {
		msg := e.Message
		if msg == "" {
			msg = http.StatusText(e.Status)
		}
		return fmt.Sprintf("%s %s: %s (HTTP %d): %s", e.Op, where, e.Code, e.Status, msg)
	}
	return fmt.Sprintf("%s %s: %v", e.Op, where, e.Err)
}

func (e *Error) Unwrap() []error {
	errs := []error{e.Err}
	if e.Code == "NoSuchKey" || e.Code == "NoSuchBucket" || e.Code == "NotFound" || e.Status == http.StatusNotFound {
		errs = append(errs, ErrNotFound)
	}
	if e.locked {
		errs = append(errs, ErrLocked)
	}
	return errs
}

func opErr(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	e = &Error{Op: op, Bucket: bucket, Key: key, Err: err}
	if r := minio.ToErrorResponse(err); r.Code != "" || r.StatusCode != 0 {
		e.Status, e.Code, e.Message = r.StatusCode, r.Code, r.Message
		if e.Code == "" {
			e.Code = http.StatusText(r.StatusCode)
		}
	} else {
		var ue *url.Error
		if errors.As(err, &ue) {
			// minio-go's url.Error names the whole request URL; the
			// operation and object already say it.
			e.Err = ue.Err
		}
	}
	return e
}

// newTransport is an http.Transport with the configured connect and
// response timeouts, wrapped in the stall watchdog.
func newTransport(cfg Config) http.RoundTripper {
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.ResponseTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   cfg.Concurrency + 4,
		DisableCompression:    true,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}
	return &stallGuard{next: t, stall: cfg.StallTimeout, log: cfg.Logger}
}
