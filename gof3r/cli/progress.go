package cli

import (
	"fmt"
	"sync"
	"time"
)

// progress prints "put 123.4 MiB  56.7 MiB/s" on stderr at most twice a
// second, overwriting itself, when enabled.
type progress struct {
	j     *job
	op    string
	mu    sync.Mutex
	start time.Time
	last  time.Time
	bytes int64
}

func (j *job) newProgress(op string) *progress {
	return &progress{j: j, op: op, start: time.Now()}
}

func (p *progress) update(n int64) {
	if !p.j.progress {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes = n
	if now := time.Now(); now.Sub(p.last) >= 500*time.Millisecond {
		p.last = now
		p.print()
	}
}

func (p *progress) print() {
	secs := time.Since(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(p.bytes) / secs / (1 << 20)
	}
	fmt.Fprintf(p.j.stderr, "\r%s %.1f MiB  %.1f MiB/s ", p.op, float64(p.bytes)/(1<<20), rate)
}

func (p *progress) done() {
	if !p.j.progress {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.print()
	fmt.Fprintln(p.j.stderr)
}
