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
func (c *Client) GetWithOptions(ctx context.Context, bucket, key string, w io.Writer, opts GetOptions) (Object, error) {
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
	hash := sha256.New()
	buf := make([]byte, 256<<10)
	var off int64
	resumes := 0
	for {
		n, rerr := rc.Read(buf)
		if n > 0 {
			hash.Write(buf[:n])
			if _, werr := w.Write(buf[:n]); werr != nil {
				rc.Close()
				return obj, opErr("get", bucket, key, fmt.Errorf("write output: %w", werr))
			}
			off += int64(n)
			if opts.Progress != nil {
				opts.Progress(off)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr == nil {
			continue
		}
		rc.Close()
		if ctx.Err() != nil || resumes+1 >= c.cfg.MaxRetries || off >= obj.Size {
			if ctx.Err() != nil {
				rerr = context.Cause(ctx)
			}
			return obj, opErr("get", bucket, key, fmt.Errorf("at byte %d of %d: %w", off, obj.Size, rerr))
		}
		resumes++
		c.cfg.Logger.Debug("s3 get resumes", "bucket", bucket, "key", key, "offset", off, "err", rerr)
		if err := sleepCtx(ctx, backoff(resumes)); err != nil {
			return obj, opErr("get", bucket, key, err)
		}
		o := minio.GetObjectOptions{}
		if err := o.SetRange(off, 0); err != nil {
			return obj, opErr("get", bucket, key, err)
		}
		if obj.ETag != "" {
			_ = o.SetMatchETag(obj.ETag)
		}
		if rc, _, _, err = c.core.GetObject(ctx, bucket, key, o); err != nil {
			return obj, opErr("get (resume)", bucket, key, err)
		}
	}
	rc.Close()
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
