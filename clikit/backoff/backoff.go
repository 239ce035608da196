// Package backoff is the wait between two tries of something that failed:
// it doubles from a first wait up to a ceiling, and sleeping on it ends
// with the context.
package backoff

import (
	"context"
	"time"
)

// Backoff hands out doubling waits. The zero value waits nothing.
type Backoff struct {
	next, max time.Duration
}

// New starts at first and doubles up to ceiling (below first: first).
func New(first, ceiling time.Duration) *Backoff {
	return &Backoff{next: first, max: max(first, ceiling)}
}

// Next returns the wait before the next try and doubles the one after.
func (b *Backoff) Next() time.Duration {
	d := b.next
	b.next = min(2*b.next, b.max)
	return d
}

// Sleep waits d, or until ctx ends (then its cause).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
