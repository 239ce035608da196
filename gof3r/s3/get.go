package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"

	"cronbox/clikit/backoff"
)

// GetOptions are the optional parts of a Get.
type GetOptions struct {
	VersionID string // a version other than the current one
	SSE       SSE    // SSE-C: the key the object was written with
	// AllowMissingChecksum streams an object that has no checksum recorded
	// at all (see the package doc) instead of refusing it with
	// ErrUnverified, and does not look for an .md5 sidecar. A recorded
	// checksum that does not match is an error regardless.
	AllowMissingChecksum bool
	// MD5Sidecar also checks the object against s3gof3r's .md5/KEY.md5,
	// which must then exist.
	MD5Sidecar bool
	// Decode, when set, undoes a PutOptions.Encode: Get passes the stored
	// bytes to Decode(obj, r), with obj's metadata to choose by, and
	// writes what the returned reader yields to w. The stored checksum is
	// checked on the stored bytes; a mismatch reaches the decoder as a
	// read error, and an error of the decoder's fails the Get.
	Decode   func(obj Object, r io.Reader) (io.Reader, error)
	Progress func(bytesSoFar int64) // stored bytes read so far
}

// Get streams bucket/key to w and verifies the stored checksum at the end
// (see the package doc); a mismatch returns an error wrapping ErrChecksum,
// an object with no checksum ErrUnverified. After a mismatch the bytes
// have already been written to w: the caller must treat them as garbage.
// A connection that breaks mid-stream is resumed from where it stopped (a
// ranged GET pinned to the same ETag).
func (c *Client) Get(ctx context.Context, bucket, key string, w io.Writer) (Object, error) {
	return c.GetWithOptions(ctx, bucket, key, w, GetOptions{})
}

// GetWithOptions is Get with options.
//
// Reading the network and hashing+writing run on two goroutines with four
// 256 KiB buffers between them, so a get costs max(network, hashing)
// rather than their sum, in about 1 MiB of buffers. Every goroutine has
// finished when it returns: nothing is written to w afterwards.
func (c *Client) GetWithOptions(ctx context.Context, bucket, key string, w io.Writer, opts GetOptions) (Object, error) {
	if err := c.checkSSE(opts.SSE); err != nil {
		return Object{}, opErr("get", bucket, key, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	o := minio.GetObjectOptions{VersionID: opts.VersionID, ServerSideEncryption: opts.SSE.forRead()}
	// The header rather than o.Checksum: that would have minio-go verify
	// too (only unranged reads, so not across a resume).
	o.Set("x-amz-checksum-mode", "ENABLED")
	rc, oi, h, err := c.core.GetObject(ctx, bucket, key, o)
	if err != nil {
		return Object{}, opErr("get", bucket, key, err)
	}
	obj := objectFrom(bucket, oi, h)
	obj.Key = key
	vs, what, err := c.verifiers(ctx, obj, opts)
	if err == nil && len(vs) == 0 && !opts.AllowMissingChecksum {
		err = opErr("get", bucket, key, ErrUnverified)
	}
	if err != nil {
		rc.Close()
		return obj, err
	}
	c.cfg.Logger.Debug("s3 get", "bucket", bucket, "key", key, "size", obj.Size, "verify", what)

	sink := w
	var dec *decodeStage
	if opts.Decode != nil {
		dec = startDecode(obj, opts.Decode, w)
		sink = dec.in
	}
	const nbuf, bufSize = 4, 256 << 10
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, bufSize)
	}
	full := make(chan chunk, nbuf)
	fetched := make(chan struct{})
	go func() {
		defer close(fetched)
		c.fetch(ctx, bucket, key, obj, opts, rc, free, full)
	}()
	// finish stops and waits for the other goroutines, so that none
	// writes anything once Get has returned.
	finish := func(err error) (Object, error) {
		cancel(err)
		for range full {
		}
		<-fetched
		if dec != nil {
			dec.in.CloseWithError(err) // nil: the decoder sees the end
			derr := dec.wait()
			switch {
			case err == errDecoderGone && derr == nil:
				err = errors.New("decode: the encoded stream ended before the object did")
			case err == errDecoderGone, err == nil:
				err = derr
			}
		}
		if err != nil {
			return obj, opErr("get", bucket, key, err)
		}
		return obj, nil
	}

	var off int64
	for ch := range full {
		if ch.err != nil {
			return finish(ch.err)
		}
		for _, v := range vs {
			v.Write(ch.b)
		}
		if _, werr := sink.Write(ch.b); werr != nil {
			if dec != nil {
				return finish(errDecoderGone)
			}
			return finish(fmt.Errorf("write output: %w", werr))
		}
		off += int64(len(ch.b))
		free <- ch.b[:cap(ch.b)]
		if opts.Progress != nil {
			opts.Progress(off)
		}
	}
	if off != obj.Size {
		return finish(fmt.Errorf("got %d bytes, the object has %d", off, obj.Size))
	}
	for _, v := range vs {
		if err := v.verify(); err != nil {
			return finish(err)
		}
	}
	return finish(nil)
}

// errDecoderGone: the decoder stopped reading; its own error says why.
var errDecoderGone = errors.New("the decoder stopped reading")

// decodeStage runs GetOptions.Decode on its own goroutine: Get writes the
// stored bytes into in, the decoder's output goes to w.
type decodeStage struct {
	in   *io.PipeWriter
	done chan error
}

func startDecode(obj Object, decode func(Object, io.Reader) (io.Reader, error), w io.Writer) *decodeStage {
	pr, pw := io.Pipe()
	d := &decodeStage{in: pw, done: make(chan error, 1)}
	go func() {
		err := func() error {
			// Decoders read their header when created (age does), so
			// this too runs here, while Get feeds the pipe.
			dr, err := decode(obj, pr)
			if err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			buf := make([]byte, 256<<10)
			for {
				n, rerr := dr.Read(buf)
				if n > 0 {
					if _, werr := w.Write(buf[:n]); werr != nil {
						return fmt.Errorf("write output: %w", werr)
					}
				}
				if rerr == io.EOF {
					return nil
				}
				if rerr != nil {
					if errors.Is(rerr, ErrChecksum) {
						return rerr
					}
					return fmt.Errorf("decode: %w", rerr)
				}
			}
		}()
		pr.CloseWithError(err)
		d.done <- err
	}()
	return d
}

func (d *decodeStage) wait() error { return <-d.done }

type chunk struct {
	b   []byte
	err error
}

// fetch reads the object into free buffers and sends them on full, which
// it closes at the end; an error is sent as the last chunk. A broken
// connection is resumed from the byte where it broke, up to MaxRetries
// times.
func (c *Client) fetch(ctx context.Context, bucket, key string, obj Object, opts GetOptions, rc io.ReadCloser, free chan []byte, full chan<- chunk) {
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
	waits := backoff.New(200*time.Millisecond, time.Second)
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
		if err := backoff.Sleep(ctx, waits.Next()); err != nil {
			send(chunk{err: err})
			return
		}
		o := minio.GetObjectOptions{VersionID: opts.VersionID, ServerSideEncryption: opts.SSE.forRead()}
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
