package s3

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// A stream of unknown size (a pipe, or anything encoded on the way) is cut
// into parts by one goroutine into a bounded pool of buffers (bufpool.go)
// and sent by up to Concurrency others.

// StreamPartSize is the size of part n (1-based) of a stream whose first parts
// are base bytes: it doubles every 1,000 parts, up to S3's 5 GiB, so that
// 10,000 parts hold about 1,000 x base x 1,023 bytes (5 TiB from 5 MiB).
func StreamPartSize(base int64, n int) int64 {
	shift := (n - 1) / partsPerDoubling
	s := base
	for i := 0; i < shift && s < maxPartSize; i++ {
		s *= 2
	}
	return min(s, maxPartSize)
}

// stream uploads a stream of unknown size: cut into parts on one
// goroutine, sent by up to Concurrency others.
func (p *putJob) stream(ctx context.Context, r io.Reader) (Object, error) {
	c := p.c
	upCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var enc *encodeStage
	if p.opts.Encode != nil {
		enc = startEncode(r, p.opts.Encode, p.progress.update)
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
		buf, err := rd.pool.get(ctx, StreamPartSize(rd.base, num))
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

// startEncode starts the encode stage. The encoder is made on the stage's
// goroutine, not before it: an encoder may write as soon as it is made
// (age writes its header), and its output is read only once startEncode
// has returned. An encoder that cannot be made fails the stage's output.
func startEncode(r io.Reader, encode func(io.Writer) (io.WriteCloser, error), progress func(int64)) *encodeStage {
	pr, pw := io.Pipe()
	e := &encodeStage{out: pr, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		enc, err := encode(pw)
		if err != nil {
			pw.CloseWithError(stageError{fmt.Errorf("encode: %w", err)})
			return
		}
		buf := make([]byte, 256<<10)
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
	return e
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
