// Package s3 streams objects to and from S3 and S3-compatible servers
// (AWS, MinIO, Ceph RGW, versitygw, R2, B2) with bounded memory and an
// end-to-end SHA-256 check. It is the engine of the gof3r command and the
// library other cronbox tools upload their backups with.
//
// Integrity: Put computes the SHA-256 of the whole object while streaming
// and stores it as user metadata (x-amz-meta-sha256); Get recomputes it
// while streaming and fails with ErrChecksum on a mismatch. Nothing relies
// on ETag == MD5, which SSE-KMS and multipart uploads break. Every part is
// also sent with its own signed SHA-256, so the server refuses a part that
// was damaged on the way.
//
// Atomicity: S3 fixes an object's metadata when its upload starts, but the
// checksum of a stream is known only at its end. So:
//   - input that fits in one part goes in a single PutObject carrying its
//     checksum;
//   - a regular file (an *os.File, such as a redirected stdin) is hashed
//     first, then uploaded as a multipart upload straight to KEY with the
//     checksum in its metadata; parts are read from the file as needed,
//     so this takes no part buffers at all;
//   - any other stream is uploaded as a multipart upload to a staging key
//     next to the final one (KEY.gof3r-staging.RANDOM), completed, then
//     copied server-side to KEY with its metadata replaced by the final
//     metadata and checksum, and the staging object is removed. The price
//     is one server-side copy (measured on versitygw's posix backend, on a
//     busy 2-core machine: 3-7 s per GiB, on top of a 5-7 s upload).
//
// In every case KEY shows either nothing or a complete, verifiable object:
// a multipart upload only becomes an object when completed, and a failure
// or a cancelled context aborts it (and removes a staging object). List
// hides staging keys. If the process is killed between completing a
// staging upload and removing it, the staging object stays behind, under
// its own name only.
package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
// Put records the hex SHA-256 of the whole object.
const MetaSHA256 = "sha256"

// stagingMark separates a key from the random suffix of its staging key.
const stagingMark = ".gof3r-staging."

var (
	// ErrChecksum: the object's bytes do not match its recorded SHA-256,
	// or it has none.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrNotFound is wrapped by errors for a missing key or bucket.
	ErrNotFound = errors.New("not found")
)

// Client talks to one S3 server. It is safe for concurrent use.
type Client struct {
	cfg  Config
	core minio.Core
	// copyLimit is the largest object copied with one CopyObject (S3: 5
	// GiB); tests lower it to reach the multipart copy.
	copyLimit int64
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
	return &Client{cfg: cfg, core: minio.Core{Client: mc}}, nil
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
	Size         int64
	SHA256       string // hex SHA-256 recorded by Put; "" if none (and in List)
	ETag         string
	LastModified time.Time
	ContentType  string
	Metadata     map[string]string // user metadata: lower-case keys without x-amz-meta-
}

func objectFrom(bucket string, oi minio.ObjectInfo, h http.Header) Object {
	o := Object{
		Bucket: bucket, Key: oi.Key, Size: oi.Size, ETag: oi.ETag,
		LastModified: oi.LastModified, ContentType: oi.ContentType,
		Metadata: map[string]string{},
	}
	if h == nil {
		h = oi.Metadata
	}
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-meta-") && len(v) > 0 {
			o.Metadata[strings.TrimPrefix(lk, "x-amz-meta-")] = v[0]
		}
	}
	o.SHA256 = o.Metadata[MetaSHA256]
	return o
}

// Stat returns the object's size and metadata without its bytes.
func (c *Client) Stat(ctx context.Context, bucket, key string) (Object, error) {
	oi, err := c.core.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
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
// as in S3; a missing bucket is an error wrapping ErrNotFound.
func (c *Client) Remove(ctx context.Context, bucket, key string) error {
	if err := c.core.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return opErr("remove", bucket, key, err)
	}
	return nil
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

func stagingKey(key string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return key + stagingMark + hex.EncodeToString(b)
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
