package run

import (
	"io"
	"sync"

	"cronbox/go-cron/redact"
)

// Tail keeps the last bytes written to it, however many are written, in a
// fixed ring. It keeps the longest secret's length more than it shows, so a
// secret cut by the ring's edge is still whole when it is masked.
type Tail struct {
	mu    sync.Mutex
	limit int
	buf   []byte // ring of limit+margin bytes
	w     int    // next write position
	full  bool
	red   *redact.Redactor
	total uint64 // bytes ever written
}

// NewTail returns a Tail showing up to limit bytes, masked by red (may be nil).
func NewTail(limit int, red *redact.Redactor) *Tail {
	if limit < 0 {
		limit = 0
	}
	return &Tail{limit: limit, buf: make([]byte, limit+red.MaxLen()), red: red}
}

// Write keeps the end of p; it never fails.
func (t *Tail) Write(p []byte) (int, error) {
	n := len(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += uint64(n)
	size := len(t.buf)
	if size == 0 {
		return n, nil
	}
	if len(p) >= size {
		copy(t.buf, p[len(p)-size:])
		t.w, t.full = 0, true
		return n, nil
	}
	c := copy(t.buf[t.w:], p)
	if c < len(p) {
		copy(t.buf, p[c:])
		t.full = true
	}
	t.w += len(p)
	if t.w >= size {
		t.w -= size
		t.full = true
	}
	return n, nil
}

// String returns the kept end, masked, at most limit bytes.
func (t *Tail) String() string {
	t.mu.Lock()
	var b []byte
	if t.full {
		b = make([]byte, 0, len(t.buf))
		b = append(b, t.buf[t.w:]...)
		b = append(b, t.buf[:t.w]...)
	} else {
		b = append([]byte(nil), t.buf[:t.w]...)
	}
	t.mu.Unlock()
	s := t.red.String(string(b))
	if len(s) > t.limit {
		s = s[len(s)-t.limit:]
	}
	return s
}

// Written is how many bytes were ever written: a reader showing the tail
// while the job runs knows from it whether there is anything new.
func (t *Tail) Written() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// Output is a run's two tails. A caller that shows the output while the job
// runs (the status port's Running) makes it and passes it in Config.Output.
type Output struct{ Stdout, Stderr *Tail }

// NewOutput returns tails of limit bytes each, masked by red.
func NewOutput(limit int, red *redact.Redactor) *Output {
	return &Output{NewTail(limit, red), NewTail(limit, red)}
}

// Tails returns both tails, masked.
func (o *Output) Tails() (stdout, stderr string) { return o.Stdout.String(), o.Stderr.String() }

// Written is the bytes written to both streams so far.
func (o *Output) Written() uint64 { return o.Stdout.Written() + o.Stderr.Written() }

// tee writes to the live stream and to the tail. A live stream that fails
// (closed stdout) must not fail the job's pipe, so its errors are dropped.
type tee struct {
	live io.Writer
	tail *Tail
}

func (w tee) Write(p []byte) (int, error) {
	if w.live != nil {
		w.live.Write(p) //nolint:errcheck // see tee
	}
	return w.tail.Write(p)
}
