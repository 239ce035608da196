package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
)

// GetOptions are the optional parts of a Get.
type GetOptions struct {
	// AllowMissingChecksum streams an object that has no recorded SHA-256
	// (one not written by Put) instead of refusing it. A recorded checksum
	// that does not match is an error regardless.
	AllowMissingChecksum bool
	Progress             func(bytesSoFar int64)
}

// Get streams bucket/key to w and verifies the recorded SHA-256 at the end;
// a mismatch, or a missing checksum, returns an error wrapping ErrChecksum
// (for a mismatch, the bytes have already been written to w: the caller
// must treat them as garbage). A connection that breaks mid-stream is
// resumed from where it stopped (a ranged GET pinned to the same ETag).
func (c *Client) Get(ctx context.Context, bucket, key string, w io.Writer) (Object, error) {
	return c.GetWithOptions(ctx, bucket, key, w, GetOptions{})
}

// GetWithOptions is Get with options.
//
// Reading the network and hashing+writing run on two goroutines with four
// 256 KiB buffers between them, so a get costs max(network, SHA-256)
// rather than their sum, in about 1 MiB of buffers.
func (c *Client) GetWithOptions(ctx context.Context, bucket, key string, w io.Writer, opts GetOptions) (Object, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rc, oi, h, err := c.core.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return Object{}, opErr("get", bucket, key, err)
	}
	obj := objectFrom(bucket, oi, h)
	obj.Key = key
	if obj.SHA256 == "" && !opts.AllowMissingChecksum {
		rc.Close()
		return obj, opErr("get", bucket, key, fmt.Errorf("%w: the object has no recorded SHA-256 (x-amz-meta-%s); it was not written by gof3r", ErrChecksum, MetaSHA256))
	}
	const nbuf, bufSize = 4, 256 << 10
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, bufSize)
	}
	full := make(chan chunk, nbuf)
	go c.fetch(ctx, bucket, key, obj, rc, free, full)

	hash := sha256.New()
	var off int64
	for ch := range full {
		if ch.err != nil {
			return obj, opErr("get", bucket, key, ch.err)
		}
		hash.Write(ch.b)
		if _, werr := w.Write(ch.b); werr != nil {
			cancel(werr)
			return obj, opErr("get", bucket, key, fmt.Errorf("write output: %w", werr))
		}
		off += int64(len(ch.b))
		free <- ch.b[:cap(ch.b)]
		if opts.Progress != nil {
			opts.Progress(off)
		}
	}
	if off != obj.Size {
		return obj, opErr("get", bucket, key, fmt.Errorf("got %d bytes, the object has %d", off, obj.Size))
	}
	if obj.SHA256 != "" {
		if got := hex.EncodeToString(hash.Sum(nil)); got != obj.SHA256 {
			return obj, opErr("get", bucket, key, fmt.Errorf("%w: SHA-256 of the bytes read is %s, the object records %s", ErrChecksum, got, obj.SHA256))
		}
	}
	return obj, nil
}

type chunk struct {
	b   []byte
	err error
}

// fetch reads the object into free buffers and sends them on full, which
// it closes at the end; an error is sent as the last chunk. A broken
// connection is resumed from the byte where it broke, up to MaxRetries
// times.
func (c *Client) fetch(ctx context.Context, bucket, key string, obj Object, rc io.ReadCloser, free chan []byte, full chan<- chunk) {
	defer close(full)
	defer func() { rc.Close() }()
	send := func(ch chunk) bool {
		select {
		case full <- ch:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var off int64
	resumes := 0
	for {
		var b []byte
		select {
		case b = <-free:
		case <-ctx.Done():
			return
		}
		n, rerr := fill(rc, b)
		if n > 0 {
			off += int64(n)
			if !send(chunk{b: b[:n]}) {
				return
			}
		} else {
			free <- b
		}
		if rerr == io.EOF {
			return
		}
		if rerr == nil {
			continue
		}
		rc.Close()
		if ctx.Err() != nil || resumes+1 >= c.cfg.MaxRetries || off >= obj.Size {
			if ctx.Err() != nil {
				rerr = context.Cause(ctx)
			}
			send(chunk{err: fmt.Errorf("at byte %d of %d: %w", off, obj.Size, rerr)})
			return
		}
		resumes++
		c.cfg.Logger.Debug("s3 get resumes", "bucket", bucket, "key", key, "offset", off, "err", rerr)
		if err := sleepCtx(ctx, backoff(resumes)); err != nil {
			send(chunk{err: err})
			return
		}
		o := minio.GetObjectOptions{}
		_ = o.SetRange(off, 0)
		if obj.ETag != "" {
			_ = o.SetMatchETag(obj.ETag)
		}
		// A failed resume must leave rc as it was: the deferred rc.Close()
		// would dereference the nil reader GetObject returns with its error.
		nrc, _, _, err := c.core.GetObject(ctx, bucket, key, o)
		if err != nil {
			send(chunk{err: fmt.Errorf("resume at byte %d: %w", off, err)})
			return
		}
		rc = nrc
	}
}

// fill reads until b is full or the reader fails; unlike io.ReadFull it
// passes the reader's error through unchanged (io.EOF stays io.EOF).
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 4)
	return min(d, time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
