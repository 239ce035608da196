package s3

import (
	"bytes"
	"context"
	"errors"
	"sync"
)

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
