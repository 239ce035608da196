package s3

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
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
	Headers  map[string]string
	Progress func(bytesSoFar int64) // called from Put's reading goroutine
}

// PartSize is the size of part n (1-based) of a stream whose first parts
// are base bytes: it doubles every 1,000 parts, up to S3's 5 GiB, so that
// 10,000 parts hold about 1,000 x base x 1,023 bytes (5 TiB from 5 MiB).
func PartSize(base int64, n int) int64 {
	shift := (n - 1) / partsPerDoubling
	s := base
	for i := 0; i < shift && s < maxPartSize; i++ {
		s *= 2
	}
	return min(s, maxPartSize)
}

// Put streams r (unknown size) to bucket/key with memory bounded by part
// size x concurrency. See the package doc for how the SHA-256 is attached
// and why nothing incomplete ever appears under key. If r fails, ctx is
// cancelled, or a part fails beyond the retry budget, the multipart upload
// is aborted and the staging object removed. When ctx is cancelled while r
// blocks in Read, Put returns without waiting for that Read.
func (c *Client) Put(ctx context.Context, bucket, key string, r io.Reader, opts PutOptions) (Object, error) {
	hdr, err := objectHeaders(opts)
	if err != nil {
		return Object{}, opErr("put", bucket, key, err)
	}
	if key == "" {
		return Object{}, opErr("put", bucket, key, errors.New("empty key"))
	}
	if f, ok := r.(fileSource); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if off, err := f.Seek(0, io.SeekCurrent); err == nil && st.Size()-off > c.cfg.PartSize {
				return c.putFile(ctx, bucket, key, f, off, st, hdr, opts.Progress)
			}
		}
	}
	rd := &partReader{
		r: bufio.NewReaderSize(r, 64<<10), base: c.cfg.PartSize, whole: sha256.New(),
		pool: newBufPool(c.cfg.Concurrency), progress: opts.Progress,
		parts: make(chan part), done: make(chan error, 1),
	}
	defer rd.pool.close()
	upCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go rd.run(upCtx)

	var first part
	select {
	case p, ok := <-rd.parts:
		if !ok {
			return Object{}, opErr("put", bucket, key, <-rd.done)
		}
		first = p
	case <-ctx.Done():
		return Object{}, opErr("put", bucket, key, context.Cause(ctx))
	}
	if first.last {
		defer rd.pool.put(first.buf)
		if err := <-rd.done; err != nil {
			return Object{}, opErr("put", bucket, key, err)
		}
		return c.putSingle(ctx, bucket, key, first.buf, rd, hdr)
	}
	return c.putMultipart(ctx, upCtx, cancel, bucket, key, first, rd, hdr)
}

// fileSource is an input whose bytes can be read twice: an *os.File.
type fileSource interface {
	io.ReaderAt
	io.Seeker
	Stat() (os.FileInfo, error)
}

// putFile uploads the rest of a regular file from offset off. It needs no
// part buffers: the file is hashed once up front (so the upload can go
// straight to key with its checksum in the metadata, with no staging copy),
// then each part is read twice from the file (to sign its SHA-256, then to
// send it), as a section reader that a retry can rewind. A file whose size
// or modification time changes meanwhile is refused and its upload aborted.
func (c *Client) putFile(ctx context.Context, bucket, key string, f fileSource, off int64, st os.FileInfo, hdr map[string]string, progress func(int64)) (Object, error) {
	start := time.Now()
	size := st.Size() - off
	partSize := min(max(c.cfg.PartSize, (size+maxParts-1)/maxParts), maxPartSize)
	buf := make([]byte, 256<<10)
	whole := sha256.New()
	if _, err := io.CopyBuffer(whole, ctxReader{ctx, io.NewSectionReader(f, off, size)}, buf); err != nil {
		return Object{}, opErr("put", bucket, key, fmt.Errorf("read input: %w", err))
	}
	sum := hex.EncodeToString(whole.Sum(nil))
	hashed := time.Since(start)

	sctx, scancel := c.cleanupContext(ctx)
	uploadID, err := c.core.NewMultipartUpload(sctx, bucket, key, putObjectOptions(hdr, sum))
	scancel()
	if err != nil {
		return Object{}, opErr("put (start multipart upload)", bucket, key, err)
	}
	log := c.cfg.Logger.With("bucket", bucket, "key", key)
	abort := func() {
		cctx, ccancel := c.cleanupContext(ctx)
		defer ccancel()
		if err := c.abort(cctx, bucket, key, uploadID); err != nil {
			log.Warn("s3 could not abort multipart upload", "upload_id", uploadID, "err", err)
		}
	}
	nparts := int((size + partSize - 1) / partSize)
	upCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	parts := make([]minio.CompletePart, nparts)
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent int64
	for range min(c.cfg.Concurrency, nparts) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for i := range next {
				at := int64(i) * partSize
				n := min(partSize, size-at)
				sr := io.NewSectionReader(f, off+at, n)
				h := sha256.New()
				if _, err := io.CopyBuffer(h, sr, buf); err != nil {
					cancel(fmt.Errorf("read input: %w", err))
					return
				}
				if _, err := sr.Seek(0, io.SeekStart); err != nil {
					cancel(err)
					return
				}
				op, err := c.core.PutObjectPart(upCtx, bucket, key, uploadID, i+1, sr, n,
					minio.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(h.Sum(nil)), DisableContentSha256: true})
				if err != nil {
					cancel(opErr(fmt.Sprintf("put part %d", i+1), bucket, key, err))
					return
				}
				parts[i] = minio.CompletePart{PartNumber: i + 1, ETag: op.ETag}
				if progress != nil {
					mu.Lock()
					sent += n
					progress(sent)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range nparts {
		select {
		case next <- i:
		case <-upCtx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(upCtx); err != nil {
		abort()
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return Object{}, opErr("put", bucket, key, err)
	}
	if st2, err := f.Stat(); err != nil || st2.Size() != st.Size() || !st2.ModTime().Equal(st.ModTime()) {
		abort()
		return Object{}, opErr("put", bucket, key, errInputChanged)
	}
	if _, err := c.core.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, minio.PutObjectOptions{}); err != nil {
		abort()
		return Object{}, opErr("put (complete multipart upload)", bucket, key, err)
	}
	log.Debug("s3 put file", "size", size, "parts", nparts, "hash", hashed, "upload", time.Since(start)-hashed)
	return c.putResult(bucket, key, size, sum, hdr), nil
}

// ctxReader stops a long local read when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, context.Cause(r.ctx)
	}
	return r.r.Read(p)
}

func (c *Client) putSingle(ctx context.Context, bucket, key string, buf []byte, rd *partReader, hdr map[string]string) (Object, error) {
	sum := hex.EncodeToString(rd.whole.Sum(nil))
	po := putObjectOptions(hdr, sum)
	start := time.Now()
	body := newPartBody(buf)
	_, err := c.core.PutObject(ctx, bucket, key, body, int64(len(buf)), "", sum, po)
	body.release()
	if err != nil {
		return Object{}, opErr("put", bucket, key, err)
	}
	c.cfg.Logger.Debug("s3 put", "bucket", bucket, "key", key, "size", len(buf), "parts", 1, "elapsed", time.Since(start))
	return c.putResult(bucket, key, rd.total, sum, hdr), nil
}

func (c *Client) putResult(bucket, key string, size int64, sum string, hdr map[string]string) Object {
	o := Object{Bucket: bucket, Key: key, Size: size, SHA256: sum, LastModified: time.Now(), Metadata: map[string]string{MetaSHA256: sum}}
	for k, v := range hdr {
		if m, ok := strings.CutPrefix(k, "x-amz-meta-"); ok {
			o.Metadata[m] = v
		}
		if k == "content-type" {
			o.ContentType = v
		}
	}
	return o
}

// errInputChanged: a file's bytes changed between its pre-hash and its upload.
var errInputChanged = errors.New("the input file changed while it was being uploaded")

// putMultipart uploads a stream to a staging key and copies it to key with
// the checksum in its metadata (see the package doc).
func (c *Client) putMultipart(ctx, upCtx context.Context, cancel context.CancelCauseFunc, bucket, key string, first part, rd *partReader, hdr map[string]string) (Object, error) {
	start := time.Now()
	staging := stagingKey(key)
	po := putObjectOptions(hdr, "")
	// Started without ctx's cancellation: a request cancelled in flight
	// may still create the upload on the server, and then we would not
	// know its ID to abort it.
	sctx, scancel := c.cleanupContext(ctx)
	uploadID, err := c.core.NewMultipartUpload(sctx, bucket, staging, po)
	scancel()
	if err != nil {
		cancel(err)
		rd.pool.put(first.buf)
		return Object{}, opErr("put (start multipart upload)", bucket, key, err)
	}
	log := c.cfg.Logger.With("bucket", bucket, "key", key, "staging", staging)
	log.Debug("s3 multipart upload started", "upload_id", uploadID)

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		done  []minio.CompletePart
		nsent int
	)
	send := func(p part) {
		wg.Add(1)
		nsent++
		go func() {
			defer wg.Done()
			defer rd.pool.put(p.buf)
			if upCtx.Err() != nil {
				return
			}
			sum := sha256.Sum256(p.buf)
			body := newPartBody(p.buf)
			op, err := c.core.PutObjectPart(upCtx, bucket, staging, uploadID, p.num, body, int64(len(p.buf)),
				minio.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(sum[:]), DisableContentSha256: true})
			body.release()
			if err != nil {
				cancel(opErr(fmt.Sprintf("put part %d", p.num), bucket, key, err))
				return
			}
			mu.Lock()
			done = append(done, minio.CompletePart{PartNumber: p.num, ETag: op.ETag})
			mu.Unlock()
		}()
	}
	send(first)
loop:
	for {
		select {
		case p, ok := <-rd.parts:
			if !ok {
				if err := <-rd.done; err != nil {
					cancel(err)
				}
				break loop
			}
			send(p)
		case <-upCtx.Done():
			break loop
		}
	}
	wg.Wait()

	cleanup := func(completed bool) {
		cctx, ccancel := c.cleanupContext(ctx)
		defer ccancel()
		if completed {
			if err := c.core.RemoveObject(cctx, bucket, staging, minio.RemoveObjectOptions{}); err != nil {
				log.Warn("s3 could not remove staging object", "err", opErr("remove", bucket, staging, err))
			}
			return
		}
		if err := c.abort(cctx, bucket, staging, uploadID); err != nil {
			log.Warn("s3 could not abort multipart upload", "upload_id", uploadID, "err", err)
		} else {
			log.Debug("s3 multipart upload aborted", "upload_id", uploadID)
		}
	}
	if err := context.Cause(upCtx); err != nil {
		cleanup(false)
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return Object{}, opErr("put", bucket, key, err)
	}
	sort.Slice(done, func(i, j int) bool { return done[i].PartNumber < done[j].PartNumber })
	if len(done) != nsent {
		cleanup(false)
		return Object{}, opErr("put", bucket, key, fmt.Errorf("internal error: %d parts sent, %d done", nsent, len(done)))
	}
	if _, err := c.core.CompleteMultipartUpload(ctx, bucket, staging, uploadID, done, minio.PutObjectOptions{}); err != nil {
		cleanup(false)
		return Object{}, opErr("put (complete multipart upload)", bucket, key, err)
	}
	uploaded := time.Since(start)
	sum := hex.EncodeToString(rd.whole.Sum(nil))
	err = c.copyWithMetadata(ctx, bucket, staging, key, rd.total, hdr, sum)
	cleanup(true)
	if err != nil {
		return Object{}, opErr("put (copy staging object to key)", bucket, key, err)
	}
	log.Debug("s3 put", "size", rd.total, "parts", len(done), "upload", uploaded, "copy", time.Since(start)-uploaded)
	return c.putResult(bucket, key, rd.total, sum, hdr), nil
}

// abort aborts the upload and checks that it is gone: a part request that
// was cancelled on our side may still be running on the server and, on
// some servers, bring the upload back after a first abort.
func (c *Client) abort(ctx context.Context, bucket, key, uploadID string) error {
	var err error
	for try := 0; try < 3; try++ {
		if err = c.core.AbortMultipartUpload(ctx, bucket, key, uploadID); err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
			return opErr("abort multipart upload", bucket, key, err)
		}
		res, lerr := c.core.ListMultipartUploads(ctx, bucket, key, "", "", "", 100)
		if lerr != nil {
			return opErr("list multipart uploads", bucket, key, lerr)
		}
		left := false
		for _, u := range res.Uploads {
			left = left || (u.Key == key && u.UploadID == uploadID)
		}
		if !left {
			return nil
		}
		if err := sleepCtx(ctx, backoff(try)); err != nil {
			return err
		}
	}
	return opErr("abort multipart upload", bucket, key, fmt.Errorf("upload %s is still listed after 3 aborts", uploadID))
}

// copyWithMetadata copies src to dst in one bucket, replacing the metadata
// with hdr plus the checksum: a single CopyObject up to 5 GiB (S3's limit
// for it), a multipart copy of up to 1 GiB ranges beyond.
func (c *Client) copyWithMetadata(ctx context.Context, bucket, src, dst string, size int64, hdr map[string]string, sum string) error {
	limit := cmp.Or(c.copyLimit, maxPartSize)
	if size <= limit {
		h := map[string]string{"x-amz-metadata-directive": "REPLACE", "x-amz-meta-" + MetaSHA256: sum}
		if hdr["content-type"] == "" {
			h["content-type"] = "application/octet-stream"
		}
		for k, v := range hdr {
			h[k] = v
		}
		_, err := c.core.CopyObject(ctx, bucket, src, bucket, dst, h, minio.CopySrcOptions{}, minio.PutObjectOptions{})
		return err
	}
	id, err := c.core.NewMultipartUpload(ctx, bucket, dst, putObjectOptions(hdr, sum))
	if err != nil {
		return err
	}
	step := min(max(min(limit, 1<<30), (size+maxParts-1)/maxParts), maxPartSize)
	var parts []minio.CompletePart
	for off, n := int64(0), 1; off < size; off, n = off+step, n+1 {
		p, err := c.core.CopyObjectPart(ctx, bucket, src, bucket, dst, id, n, off, min(step, size-off), nil)
		if err == nil {
			parts = append(parts, p)
			continue
		}
		cctx, ccancel := c.cleanupContext(ctx)
		defer ccancel()
		if aerr := c.abort(cctx, bucket, dst, id); aerr != nil {
			c.cfg.Logger.Warn("s3 could not abort multipart copy", "upload_id", id, "err", aerr)
		}
		return err
	}
	_, err = c.core.CompleteMultipartUpload(ctx, bucket, dst, id, parts, minio.PutObjectOptions{})
	return err
}

// cleanupContext is for aborting and removing after a failure or a
// cancellation: it outlives ctx's cancellation, but not by more than 30 s
// (a stopping container gets little more before SIGKILL).
func (c *Client) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), min(c.cfg.ResponseTimeout, 30*time.Second))
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
	return h, nil
}

func putObjectOptions(hdr map[string]string, sum string) minio.PutObjectOptions {
	po := minio.PutObjectOptions{UserMetadata: map[string]string{}, DisableContentSha256: true, DisableMultipart: true}
	for k, v := range hdr {
		if k == "content-type" {
			po.ContentType = v
			continue
		}
		po.UserMetadata[k] = v
	}
	if sum != "" {
		po.UserMetadata["x-amz-meta-"+MetaSHA256] = sum
	}
	return po
}

type part struct {
	num  int
	buf  []byte
	last bool
}

// partReader cuts the input into parts on its own goroutine, hashing the
// whole stream on the way.
type partReader struct {
	r     *bufio.Reader
	base  int64
	whole interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	total    int64
	pool     *bufPool
	progress func(int64)
	parts    chan part
	done     chan error // the reader's verdict, sent before parts is closed
}

func (rd *partReader) run(ctx context.Context) {
	defer close(rd.parts)
	for num := 1; ; num++ {
		buf, err := rd.pool.get(ctx, PartSize(rd.base, num))
		if err != nil {
			rd.done <- context.Cause(ctx)
			return
		}
		n, err := io.ReadFull(rd.r, buf)
		buf = buf[:n]
		rd.whole.Write(buf)
		rd.total += int64(n)
		if rd.progress != nil && n > 0 {
			rd.progress(rd.total)
		}
		last := false
		switch err {
		case nil:
			if _, perr := rd.r.Peek(1); perr == io.EOF {
				last = true
			}
		case io.EOF, io.ErrUnexpectedEOF:
			last = true
		default:
			rd.pool.put(buf)
			rd.done <- fmt.Errorf("read input: %w", err)
			return
		}
		if !last && num == maxParts {
			rd.pool.put(buf)
			rd.done <- fmt.Errorf("input longer than %d parts (%d bytes so far): raise the part size", maxParts, rd.total)
			return
		}
		if n == 0 && num > 1 {
			rd.pool.put(buf)
			rd.done <- nil
			return
		}
		select {
		case rd.parts <- part{num: num, buf: buf, last: last}:
		case <-ctx.Done():
			rd.pool.put(buf)
			rd.done <- context.Cause(ctx)
			return
		}
		if last {
			rd.done <- nil
			return
		}
	}
}

// bufPool hands out at most n buffers at once and reuses them. The part
// buffers are the only large allocations; they come from allocBuf (memory
// outside the Go heap where the OS allows it), so the garbage collector's
// target follows the small heap of everything else instead of letting
// garbage pile up to the size of the buffers: the RSS stays close to
// part size x concurrency.
type bufPool struct {
	free   chan []byte
	mu     sync.Mutex
	closed bool
}

func newBufPool(n int) *bufPool {
	p := &bufPool{free: make(chan []byte, n)}
	for range n {
		p.free <- nil
	}
	return p
}

func (p *bufPool) get(ctx context.Context, size int64) ([]byte, error) {
	select {
	case b := <-p.free:
		if int64(cap(b)) < size {
			freeBuf(b)
			b = allocBuf(int(size))
		}
		return b[:size], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns a buffer; after close it is released at once (a reader still
// blocked in Read when Put returned hands its buffer back late).
func (p *bufPool) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		freeBuf(b)
		return
	}
	p.free <- b
}

// close releases the buffers not in use; those in use are released by put.
func (p *bufPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for {
		select {
		case b := <-p.free:
			freeBuf(b)
		default:
			return
		}
	}
}

// partBody is a part's request body that stops reading its buffer once
// released: net/http may still read a request body after RoundTrip has
// returned (when the server answers early), and the buffer is then reused
// for the next part, or unmapped.
type partBody struct {
	mu   sync.Mutex
	r    *bytes.Reader
	dead bool
}

var errReleased = errors.New("part body read after its request ended")

func newPartBody(b []byte) *partBody { return &partBody{r: bytes.NewReader(b)} }

func (b *partBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dead {
		return 0, errReleased
	}
	return b.r.Read(p)
}

func (b *partBody) Seek(off int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dead {
		return 0, errReleased
	}
	return b.r.Seek(off, whence)
}

func (b *partBody) release() {
	b.mu.Lock()
	b.dead = true
	b.mu.Unlock()
}
