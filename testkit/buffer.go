package testkit

import "sync"

// Buffer collects a process's output while the test reads it: safe for one
// writer and concurrent readers. With Limit > 0 it keeps only the first
// Limit bytes (enough to explain a failure) and still accepts every write;
// after KeepLast(n) it keeps about the last n bytes instead (a process that
// writes for minutes).
type Buffer struct {
	Limit int

	mu   sync.Mutex
	b    []byte
	last int
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.last > 0:
		if len(b.b)+len(p) > 2*b.last {
			keep := b.b[len(b.b)-min(len(b.b), b.last):]
			b.b = append(make([]byte, 0, 2*b.last), keep...)
		}
		b.b = append(b.b, p...)
	case b.Limit <= 0 || len(b.b) < b.Limit:
		b.b = append(b.b, p...)
	}
	return len(p), nil
}

// KeepLast bounds the buffer, from now on, to about the last n bytes.
func (b *Buffer) KeepLast(n int) {
	b.mu.Lock()
	b.last = n
	b.mu.Unlock()
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// Bytes returns a copy of what was written so far.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.b...)
}
