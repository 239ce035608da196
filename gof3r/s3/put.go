package s3

import (
	"bufio"
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
	"net/http"
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

// putJob is one Put: what it writes and how.
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

// stream uploads a stream of unknown size: cut into parts on one
// goroutine, sent by up to Concurrency others.
func (p *putJob) stream(ctx context.Context, r io.Reader) (Object, error) {
	c := p.c
	upCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var enc *encodeStage
	if p.opts.Encode != nil {
		var err error
		if enc, err = startEncode(r, p.opts.Encode, p.progress.update); err != nil {
			return p.fail("put", fmt.Errorf("encode: %w", err))
		}
		// Put may return while the encoder goroutine is still blocked
		// reading the input; closing its pipe makes its next write fail.
		defer enc.stop(errors.New("put ended"))
		r = enc.out
	}
	rd := &partReader{
		r: bufio.NewReaderSize(r, 64<<10), base: c.cfg.PartSize,
		pool: newBufPool(c.cfg.Concurrency), parts: make(chan part), done: make(chan readResult, 1),
	}
	if enc == nil {
		rd.progress = p.progress.update
	}
	rd.whole = p.newWholeHashes()
	defer rd.pool.close()
	go rd.run(upCtx)

	var first part
	select {
	case pt, ok := <-rd.parts:
		if !ok {
			return p.fail("put", (<-rd.done).err)
		}
		first = pt
	case <-ctx.Done():
		return p.fail("put", context.Cause(ctx))
	}
	if first.last {
		defer rd.pool.put(first.buf)
		res := <-rd.done
		if res.err != nil {
			return p.fail("put", res.err)
		}
		return p.single(ctx, first.buf, res, enc)
	}
	return p.multipart(ctx, upCtx, cancel, first, rd, enc)
}

// single stores an input that fits in one part with one PutObject,
// carrying its CRC64NVME and, since it is known before the upload starts,
// its SHA-256 as metadata (what versions before 2026-12 recorded).
func (p *putJob) single(ctx context.Context, buf []byte, res readResult, enc *encodeStage) (Object, error) {
	c := p.c
	start := time.Now()
	sha := sha256.Sum256(buf)
	sum := hex.EncodeToString(sha[:])
	crc := checksumAlgo.ChecksumBytes(buf)
	po := p.createOptions()
	po.UserMetadata["x-amz-meta-"+MetaSHA256] = sum
	po.UserMetadata[checksumAlgo.Key()] = crc.Encoded()
	body := newPartBody(buf)
	info, err := c.core.PutObject(ctx, p.bucket, p.key, body, int64(len(buf)), "", sum, po)
	body.release()
	if err != nil {
		return Object{}, p.explainLock("put", err)
	}
	p.log.Debug("s3 put", "size", len(buf), "parts", 1, "elapsed", time.Since(start))
	o := p.result(int64(len(buf)), Checksum{Algorithm: checksumAlgo.String(), Type: fullObject, Value: crc.Encoded()}, info)
	o.SHA256, o.Metadata[MetaSHA256] = sum, sum
	o.InputSize = enc.inputSize(res.total)
	return p.finish(ctx, o, res.sums)
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

// multipart uploads a stream straight to key; the server checks each
// part's CRC64NVME and, at completion, the whole object's, which Put
// combines from the parts'.
func (p *putJob) multipart(ctx, upCtx context.Context, cancel context.CancelCauseFunc, first part, rd *partReader, enc *encodeStage) (Object, error) {
	start := time.Now()
	up, err := p.create(ctx)
	if err != nil {
		cancel(err)
		rd.pool.put(first.buf)
		return Object{}, p.explainLock("put (start multipart upload)", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		done  []minio.ObjectPart
		nsent int
	)
	send := func(pt part) {
		wg.Add(1)
		nsent++
		go func() {
			defer wg.Done()
			defer rd.pool.put(pt.buf)
			if upCtx.Err() != nil {
				return
			}
			body := newPartBody(pt.buf)
			// ctx, not upCtx: a failure elsewhere lets the parts in flight
			// finish, so that none lands after the abort (see abort).
			op, err := up.part(ctx, pt.num, body, int64(len(pt.buf)), p.sumPart(pt.buf))
			body.release()
			if err != nil {
				cancel(err)
				return
			}
			mu.Lock()
			done = append(done, op)
			mu.Unlock()
		}()
	}
	send(first)
	var res readResult
loop:
	for {
		select {
		case pt, ok := <-rd.parts:
			if !ok {
				if res = <-rd.done; res.err != nil {
					cancel(res.err)
				}
				break loop
			}
			send(pt)
		case <-upCtx.Done():
			break loop
		}
	}
	wg.Wait()
	if err := context.Cause(upCtx); err != nil {
		up.abort(ctx)
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return p.fail("put", err)
	}
	if len(done) != nsent {
		up.abort(ctx)
		return p.fail("put", fmt.Errorf("internal error: %d parts sent, %d done", nsent, len(done)))
	}
	o, err := up.complete(ctx, done)
	if err != nil {
		return p.fail("put (complete multipart upload)", err)
	}
	o.InputSize = enc.inputSize(res.total)
	p.log.Debug("s3 put", "size", o.Size, "parts", len(done), "elapsed", time.Since(start))
	return p.finish(ctx, o, res.sums)
}

// upload is one multipart upload in progress.
type upload struct {
	p  *putJob
	id string
}

// create starts the multipart upload, declaring its checksum. It runs
// without ctx's cancellation: a request cancelled in flight may still
// create the upload on the server, and then we would not know its ID to
// abort it.
func (p *putJob) create(ctx context.Context) (*upload, error) {
	po := p.createOptions()
	po.UserMetadata["x-amz-checksum-algorithm"] = checksumAlgo.String()
	po.UserMetadata["x-amz-checksum-type"] = fullObject
	sctx, scancel := p.c.cleanupContext(ctx)
	defer scancel()
	id, err := p.c.core.NewMultipartUpload(sctx, p.bucket, p.key, po)
	if err != nil {
		return nil, err
	}
	p.log.Debug("s3 multipart upload started", "upload_id", id)
	return &upload{p: p, id: id}, nil
}

// partSum is what a part is declared with: its checksum, and its SHA-256
// when the connection is plain http.
type partSum struct {
	crc minio.Checksum
	sha []byte // nil over https
}

// sumPart computes a part's partSum from its bytes.
func (p *putJob) sumPart(b []byte) partSum {
	s := partSum{crc: checksumAlgo.ChecksumBytes(b)}
	if !p.c.secure {
		h := sha256.Sum256(b)
		s.sha = h[:]
	}
	return s
}

// partHasher computes a partSum while a part is read.
func (p *putJob) partHasher() (io.Writer, func() partSum) {
	crc := checksumAlgo.Hasher()
	if p.c.secure {
		return crc, func() partSum { return partSum{crc: minio.NewChecksum(checksumAlgo, crc.Sum(nil))} }
	}
	sha := sha256.New()
	return io.MultiWriter(crc, sha), func() partSum {
		return partSum{crc: minio.NewChecksum(checksumAlgo, crc.Sum(nil)), sha: sha.Sum(nil)}
	}
}

// part uploads part n, declaring its checksum (which the server checks;
// buckets with object lock require one on every part). Over https the
// payload is not signed (UNSIGNED-PAYLOAD, as the AWS SDKs do): TLS and the
// signed checksum header cover it. Over plain http it is signed with its
// SHA-256, so that no one on the way can change a part and its CRC
// together; measured on the 1 GiB bench, the extra SHA-256 made no
// difference beyond the noise.
func (u *upload) part(ctx context.Context, n int, body io.Reader, size int64, sum partSum) (minio.ObjectPart, error) {
	h := http.Header{}
	h.Set(checksumAlgo.Key(), sum.crc.Encoded())
	po := minio.PutObjectPartOptions{CustomHeader: h, SSE: u.p.opts.SSE.forRead(), DisableContentSha256: true}
	if sum.sha != nil {
		po.Sha256Hex = hex.EncodeToString(sum.sha)
	}
	op, err := u.p.c.core.PutObjectPart(ctx, u.p.bucket, u.p.key, u.id, n, body, size, po)
	if err != nil {
		return op, opErr(fmt.Sprintf("put part %d", n), u.p.bucket, u.p.key, err)
	}
	if op.Checksum(checksumAlgo) == "" {
		// The server did not echo it (not every server does): the
		// completion's whole-object checksum needs each part's.
		op.ChecksumCRC64NVME = sum.crc.Encoded()
	}
	op.Size = size
	return op, nil
}

// complete sends the parts with the whole-object checksum; the server
// refuses (BadDigest) if the object it assembled does not match. Any
// failure aborts the upload.
func (u *upload) complete(ctx context.Context, parts []minio.ObjectPart) (Object, error) {
	p := u.p
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	var size int64
	cps := make([]minio.CompletePart, len(parts))
	for i, op := range parts {
		if op.PartNumber != i+1 {
			u.abort(ctx)
			return Object{}, fmt.Errorf("internal error: part %d missing", i+1)
		}
		size += op.Size
		cps[i] = minio.CompletePart{PartNumber: op.PartNumber, ETag: op.ETag, ChecksumCRC64NVME: op.ChecksumCRC64NVME}
	}
	whole, err := checksumAlgo.FullObjectChecksum(parts)
	if err != nil {
		u.abort(ctx)
		return Object{}, fmt.Errorf("combine the parts' checksums: %w", err)
	}
	sum := Checksum{Algorithm: checksumAlgo.String(), Type: fullObject, Value: whole.Encoded()}
	po := minio.PutObjectOptions{
		UserMetadata:         map[string]string{checksumAlgo.Key(): whole.Encoded(), "x-amz-checksum-type": fullObject},
		ServerSideEncryption: p.opts.SSE.forRead(),
	}
	info, err := p.c.core.CompleteMultipartUpload(ctx, p.bucket, p.key, u.id, cps, po)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchUpload" && u.completedEarlier(ctx, sum, size) {
			// A retried completion whose first try went through.
			return p.result(size, sum, info), nil
		}
		u.abort(ctx)
		return Object{}, err
	}
	return p.result(size, sum, info), nil
}

// completedEarlier says whether key now holds the object this upload
// would have completed: same size and whole-object checksum.
func (u *upload) completedEarlier(ctx context.Context, sum Checksum, size int64) bool {
	o, err := u.p.c.StatWithOptions(ctx, u.p.bucket, u.p.key, StatOptions{SSE: u.p.opts.SSE})
	return err == nil && o.Size == size && o.Checksum == sum
}

func (u *upload) abort(ctx context.Context) {
	cctx, ccancel := u.p.c.cleanupContext(ctx)
	defer ccancel()
	if err := u.p.c.abort(cctx, u.p.bucket, u.p.key, u.id, ctx.Err() != nil); err != nil {
		u.p.log.Warn("s3 could not abort multipart upload", "upload_id", u.id, "err", err)
	} else {
		u.p.log.Debug("s3 multipart upload aborted", "upload_id", u.id)
	}
}

// fileSource is an input whose bytes can be read twice: an *os.File.
type fileSource interface {
	io.ReaderAt
	io.Seeker
	Stat() (os.FileInfo, error)
}

// file uploads the rest of a regular file from offset off. It needs no
// part buffers: each part is read twice from the file (for its checksum,
// then to send it) as a section reader that a retry can rewind. A file
// whose size or modification time changes meanwhile is refused and its
// upload aborted.
func (p *putJob) file(ctx context.Context, f fileSource, off int64, st os.FileInfo) (Object, error) {
	c := p.c
	start := time.Now()
	size := st.Size() - off
	partSize := min(max(c.cfg.PartSize, (size+maxParts-1)/maxParts), maxPartSize)
	nparts := int((size + partSize - 1) / partSize)
	up, err := p.create(ctx)
	if err != nil {
		return Object{}, p.explainLock("put (start multipart upload)", err)
	}
	upCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Digests of the whole file need it in order: one more reader.
	var sums digests
	hashed := make(chan error, 1)
	if whole := p.newWholeHashes(); whole != nil {
		go func() {
			_, err := io.CopyBuffer(whole, ctxReader{upCtx, io.NewSectionReader(f, off, size)}, make([]byte, 256<<10))
			sums = whole.sums()
			hashed <- err
		}()
	} else {
		hashed <- nil
	}

	parts := make([]minio.ObjectPart, nparts)
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
				h, sum := p.partHasher()
				if _, err := io.CopyBuffer(h, sr, buf); err != nil {
					cancel(fmt.Errorf("read input: %w", err))
					return
				}
				if _, err := sr.Seek(0, io.SeekStart); err != nil {
					cancel(err)
					return
				}
				op, err := up.part(ctx, i+1, sr, n, sum())
				if err != nil {
					cancel(err)
					return
				}
				parts[i] = op
				mu.Lock()
				sent += n
				p.progress.update(sent)
				mu.Unlock()
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
	if err := context.Cause(upCtx); err == nil {
		if err := <-hashed; err != nil {
			cancel(fmt.Errorf("read input: %w", err))
		}
	} else {
		cancel(err)
		<-hashed // it stops at its next read: upCtx is done
	}
	if err := context.Cause(upCtx); err != nil {
		up.abort(ctx)
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return p.fail("put", err)
	}
	if st2, err := f.Stat(); err != nil || st2.Size() != st.Size() || !st2.ModTime().Equal(st.ModTime()) {
		up.abort(ctx)
		return p.fail("put", errInputChanged)
	}
	o, err := up.complete(ctx, parts)
	if err != nil {
		return p.fail("put (complete multipart upload)", err)
	}
	o.InputSize = size
	p.log.Debug("s3 put file", "size", size, "parts", nparts, "part_size", partSize, "elapsed", time.Since(start))
	return p.finish(ctx, o, sums)
}

// errInputChanged: a file changed while it was being uploaded.
var errInputChanged = errors.New("the input file changed while it was being uploaded")

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

// abort aborts the upload and checks that it is gone. A part request
// cancelled on our side (cancelled: the caller's context ended while parts
// were in flight) may still be running on the server, and there is no
// telling when it ends: S3 documents that such a part may still land, and
// versitygw then brings the upload back. So after a cancellation the
// upload is looked for again over a second, and aborted again if it is
// back. Without a cancellation, Put waits for the parts in flight before
// it aborts.
func (c *Client) abort(ctx context.Context, bucket, key, uploadID string, cancelled bool) error {
	checks := 1
	if cancelled {
		checks = 4
	}
	aborts := 0
	for try := 0; try < checks; try++ {
		if try > 0 {
			if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
				return err
			}
		}
		for {
			left, err := c.uploadListed(ctx, bucket, key, uploadID, aborts == 0)
			if err != nil || !left {
				if err != nil {
					return err
				}
				break
			}
			if aborts++; aborts > 5 {
				return opErr("abort multipart upload", bucket, key, fmt.Errorf("upload %s is still listed after %d aborts", uploadID, aborts-1))
			}
			if err := c.core.AbortMultipartUpload(ctx, bucket, key, uploadID); err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
				return opErr("abort multipart upload", bucket, key, err)
			}
		}
	}
	return nil
}

// uploadListed says whether the upload is still listed; assume says yes
// without asking (before the first abort).
func (c *Client) uploadListed(ctx context.Context, bucket, key, uploadID string, assume bool) (bool, error) {
	if assume {
		return true, nil
	}
	res, err := c.core.ListMultipartUploads(ctx, bucket, key, "", "", "", 1000)
	if err != nil {
		return false, opErr("list multipart uploads", bucket, key, err)
	}
	for _, u := range res.Uploads {
		if u.Key == key && u.UploadID == uploadID {
			return true, nil
		}
	}
	return false, nil
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

type part struct {
	num  int
	buf  []byte
	last bool
}

// readResult is the part reader's verdict, read by Put only once the
// reader has finished: nothing it counts is shared while it runs.
type readResult struct {
	err   error
	total int64 // bytes read
	sums  digests
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

// partReader cuts the input into parts on its own goroutine.
type partReader struct {
	r        *bufio.Reader
	base     int64
	whole    *wholeHashes // nil unless asked for
	pool     *bufPool
	progress func(int64)
	parts    chan part
	done     chan readResult // sent once, before parts is closed
}

func (rd *partReader) run(ctx context.Context) {
	defer close(rd.parts)
	var total int64
	finish := func(err error) {
		res := readResult{err: err, total: total}
		if err == nil {
			res.sums = rd.whole.sums()
		}
		rd.done <- res
	}
	for num := 1; ; num++ {
		buf, err := rd.pool.get(ctx, PartSize(rd.base, num))
		if err != nil {
			finish(context.Cause(ctx))
			return
		}
		n, err := io.ReadFull(rd.r, buf)
		buf = buf[:n]
		if rd.whole != nil {
			rd.whole.Write(buf)
		}
		total += int64(n)
		if rd.progress != nil && n > 0 {
			rd.progress(total)
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
			var se stageError
			if !errors.As(err, &se) {
				err = fmt.Errorf("read input: %w", err)
			}
			finish(err)
			return
		}
		if !last && num == maxParts {
			rd.pool.put(buf)
			finish(fmt.Errorf("input longer than %d parts (%d bytes so far): raise the part size", maxParts, total))
			return
		}
		if n == 0 && num > 1 {
			rd.pool.put(buf)
			finish(nil)
			return
		}
		select {
		case rd.parts <- part{num: num, buf: buf, last: last}:
		case <-ctx.Done():
			rd.pool.put(buf)
			finish(context.Cause(ctx))
			return
		}
		if last {
			finish(nil)
			return
		}
	}
}

// encodeStage runs PutOptions.Encode on its own goroutine: the input is
// copied into the encoder, whose output Put reads from out.
type encodeStage struct {
	out   *io.PipeReader
	done  chan struct{} // closed when the goroutine has finished
	total int64         // input bytes; read only after done
}

// stageError is an error that already says which stage it comes from
// (the part reader does not call it a read error of the input).
type stageError struct{ err error }

func (e stageError) Error() string { return e.err.Error() }
func (e stageError) Unwrap() error { return e.err }

func startEncode(r io.Reader, encode func(io.Writer) (io.WriteCloser, error), progress func(int64)) (*encodeStage, error) {
	pr, pw := io.Pipe()
	enc, err := encode(pw)
	if err != nil {
		return nil, err
	}
	e := &encodeStage{out: pr, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		buf := make([]byte, 256<<10)
		var err error
		for {
			n, rerr := r.Read(buf)
			if n > 0 {
				e.total += int64(n)
				if _, werr := enc.Write(buf[:n]); werr != nil {
					err = stageError{fmt.Errorf("encode: %w", werr)}
					break
				}
				progress(e.total)
			}
			if rerr == io.EOF {
				if cerr := enc.Close(); cerr != nil {
					err = stageError{fmt.Errorf("encode: %w", cerr)}
				}
				break
			}
			if rerr != nil {
				err = stageError{fmt.Errorf("read input: %w", rerr)}
				break
			}
		}
		pw.CloseWithError(err) // nil: a clean EOF
	}()
	return e, nil
}

// wait waits for the encoder to finish; it is called only once its
// output has been read to the end, so it does not block for long.
func (e *encodeStage) wait() {
	if e != nil {
		<-e.done
	}
}

// stop makes a still-running encoder fail at its next write.
func (e *encodeStage) stop(cause error) { e.out.CloseWithError(cause) }

// inputSize is the bytes read from the input: counted by the encoder when
// there is one, else by the part reader.
func (e *encodeStage) inputSize(partTotal int64) int64 {
	if e == nil {
		return partTotal
	}
	e.wait()
	return e.total
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
