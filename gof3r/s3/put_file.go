package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// A regular file needs no part buffers: its parts are read where they
// are, twice.

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
	start := time.Now()
	size := st.Size() - off
	up, err := p.create(ctx)
	if err != nil {
		return Object{}, p.explainLock("put (start multipart upload)", err)
	}
	upCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hashed := p.hashFile(upCtx, io.NewSectionReader(f, off, size))
	parts, partSize := p.sendFileParts(ctx, upCtx, cancel, up, io.NewSectionReader(f, off, size))
	if err := context.Cause(upCtx); err == nil {
		if _, err := hashed(); err != nil {
			cancel(fmt.Errorf("read input: %w", err))
		}
	} else {
		cancel(err)
		hashed() // it stops at its next read: upCtx is done
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
	p.log.Debug("s3 put file", "size", size, "parts", len(parts), "part_size", partSize, "elapsed", time.Since(start))
	sums, _ := hashed()
	return p.finish(ctx, o, sums)
}

// hashFile computes the whole-object digests asked for (PutOptions.SHA256,
// MD5Sidecar), which need the file in order, on a reader of its own;
// hashed waits for them.
func (p *putJob) hashFile(ctx context.Context, r io.Reader) (hashed func() (digests, error)) {
	whole := p.newWholeHashes()
	if whole == nil {
		return func() (digests, error) { return digests{}, nil }
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(whole, ctxReader{ctx, r}, make([]byte, 256<<10))
		done <- err
	}()
	var sums digests
	var err error
	waited := false
	return func() (digests, error) { // on file's goroutine only
		if !waited {
			err, waited = <-done, true
			sums = whole.sums()
		}
		return sums, err
	}
}

// sendFileParts sends src's parts from up to Concurrency goroutines, each
// part read for its checksum, then sent. A failure cancels upCtx with its
// cause; the parts in flight send on with ctx, so that none lands after an
// abort.
func (p *putJob) sendFileParts(ctx, upCtx context.Context, cancel context.CancelCauseFunc, up *upload, src *io.SectionReader) ([]minio.ObjectPart, int64) {
	size := src.Size()
	partSize := min(max(p.c.cfg.PartSize, (size+maxParts-1)/maxParts), maxPartSize)
	nparts := int((size + partSize - 1) / partSize)
	parts := make([]minio.ObjectPart, nparts)
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent int64
	for range min(p.c.cfg.Concurrency, nparts) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for i := range next {
				at := int64(i) * partSize
				n := min(partSize, size-at)
				sr := io.NewSectionReader(src, at, n)
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
	return parts, partSize
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
