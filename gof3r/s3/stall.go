package s3

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// errStalled is the cause of a request cancelled by the stall watchdog.
var errStalled = errors.New("no progress on the connection for the stall timeout")

// stallGuard cancels a request whose body transfer stops moving for the
// stall timeout, instead of capping the whole request's duration: a slow
// link that keeps moving is not a failure, a dead one is (and minio-go
// then retries the request, since our caller's context is still alive).
//
// While a request body is being sent, "moving" means the transport keeps
// reading it (it reads the next chunk once the previous one is written to
// the socket). While a response body is read, it means a Read blocked on
// the network returns within the timeout; time the caller spends between
// Reads (a slow consumer) does not count. The wait for response headers is
// left to http.Transport's ResponseHeaderTimeout.
type stallGuard struct {
	next  http.RoundTripper
	stall time.Duration
	log   *slog.Logger
}

type watch struct {
	stall   time.Duration
	cancel  context.CancelCauseFunc
	last    atomic.Int64 // unix nanos of the last progress
	phase   atomic.Int32 // phaseSend, phaseWait, phaseRecv
	inRead  atomic.Int32
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

const (
	phaseSend = iota
	phaseWait
	phaseRecv
)

func (w *watch) touch() { w.last.Store(time.Now().UnixNano()) }

func (w *watch) check() {
	idle := time.Duration(time.Now().UnixNano() - w.last.Load())
	stalled := false
	switch w.phase.Load() {
	case phaseSend:
		stalled = idle >= w.stall
	case phaseRecv:
		stalled = w.inRead.Load() > 0 && idle >= w.stall
	}
	if stalled {
		w.cancel(errStalled)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		next := w.stall - idle
		if next < w.stall/10 {
			next = w.stall / 10
		}
		w.timer.Reset(next)
	}
}

func (w *watch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

func (g *stallGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watch{stall: g.stall, cancel: cancel}
	w.touch()
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &sendBody{rc: req.Body, w: w, left: req.ContentLength}
	} else {
		w.phase.Store(phaseWait)
	}
	w.mu.Lock()
	w.timer = time.AfterFunc(g.stall, w.check)
	w.mu.Unlock()
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		w.stop()
		if context.Cause(ctx) == errStalled {
			g.log.Debug("s3 request stalled", "method", req.Method, "path", req.URL.Path, "stall_timeout", g.stall)
			err = errors.Join(errStalled, err)
		}
		cancel(nil)
		return nil, err
	}
	w.touch()
	w.phase.Store(phaseRecv)
	resp.Body = &recvBody{rc: resp.Body, w: w, ctx: ctx, done: func() { w.stop(); cancel(nil) }}
	return resp, nil
}

type sendBody struct {
	rc   io.ReadCloser
	w    *watch
	left int64 // bytes still to send; -1 when unknown
}

func (b *sendBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.w.touch()
	if b.left >= 0 {
		b.left -= int64(n)
	}
	if err != nil || b.left == 0 {
		b.w.phase.CompareAndSwap(phaseSend, phaseWait)
	}
	return n, err
}

func (b *sendBody) Close() error { return b.rc.Close() }

type recvBody struct {
	rc   io.ReadCloser
	w    *watch
	ctx  context.Context
	once sync.Once
	done func()
}

func (b *recvBody) Read(p []byte) (int, error) {
	b.w.touch()
	b.w.inRead.Add(1)
	n, err := b.rc.Read(p)
	b.w.inRead.Add(-1)
	b.w.touch()
	if err != nil && err != io.EOF && context.Cause(b.ctx) == errStalled {
		err = errors.Join(errStalled, err)
	}
	return n, err
}

func (b *recvBody) Close() error {
	err := b.rc.Close()
	b.once.Do(b.done)
	return err
}
