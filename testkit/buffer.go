package testkit

import (
	"strings"
	"sync"
)

// Buffer collects a process's output while the test reads it: safe for one
// writer and concurrent readers. With Limit > 0 it keeps only the first
// Limit bytes (enough to explain a failure) and still accepts every write.
type Buffer struct {
	Limit int

	mu sync.Mutex
	b  strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Limit <= 0 || b.b.Len() < b.Limit {
		b.b.Write(p)
	}
	return len(p), nil
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
