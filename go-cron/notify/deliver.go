package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"cronbox/clikit/backoff"
)

// item is one message for one destination: what it is (for the log and
// the last error) and how to send it once.
type item struct {
	what string
	send func(ctx context.Context) error
}

// setupEnv is what destinations share.
type setupEnv struct {
	client    *http.Client
	log       *slog.Logger
	userAgent string
}

// destination is a ping, a webhook, a chat service or a mail server.
type destination interface {
	setup(env setupEnv)
}

// eventSender is a destination of events (all but the ping).
type eventSender interface {
	send(ctx context.Context, m *message) error
}

// permanent marks an error a retry will not change (a 4xx answer).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// channel is one destination with its queue and counters; one goroutine
// (work) sends, in order.
type channel struct {
	n       *Notifier
	kind    string // "ping", "webhook", "slack", "smtp", ...
	display string // the URL, redacted
	s       destination
	wake    chan struct{}

	mu                    sync.Mutex
	queue                 []item
	sent, failed, dropped uint64
}

// enqueue adds it to the queue, dropping the oldest waiting item when the
// queue is full: the newest state is the one worth telling.
func (c *channel) enqueue(it item) {
	c.mu.Lock()
	select {
	case <-c.n.closing:
		c.dropped++
		c.mu.Unlock()
		c.n.log.Warn("notification dropped: go-cron is stopping", "channel", c.kind, "url", c.display, "what", it.what)
		c.n.changed()
		return
	default:
	}
	var lost string
	if len(c.queue) >= c.n.cfg.Queue {
		lost = c.queue[0].what
		c.queue = append(c.queue[:0], c.queue[1:]...)
		c.dropped++
	}
	c.queue = append(c.queue, it)
	c.mu.Unlock()
	if lost != "" {
		c.n.log.Warn("notification dropped: the queue is full (the receiver is slow or down)", "channel", c.kind, "url", c.display, "what", lost, "queue", c.n.cfg.Queue)
		c.n.changed()
	}
	c.poke()
}

func (c *channel) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *channel) next() (item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return item{}, false
	}
	it := c.queue[0]
	c.queue[0] = item{}
	c.queue = c.queue[1:]
	return it, true
}

// work sends the queue in order until the notifier closes and the queue is
// empty (or Close gives up: the rest is dropped).
func (c *channel) work() {
	for {
		it, ok := c.next()
		if !ok {
			select {
			case <-c.wake:
				continue
			case <-c.n.closing:
				if it, ok = c.next(); !ok {
					return
				}
			}
		}
		if c.n.sendCtx.Err() != nil {
			c.mu.Lock()
			c.dropped++
			c.mu.Unlock()
			c.n.changed()
			continue
		}
		c.deliver(it)
	}
}

// deliver tries it once, then up to Retries more times with a doubling wait
// (at most maxBackoff) while the error is not permanent.
func (c *channel) deliver(it item) {
	n := c.n
	b := backoff.New(n.cfg.Backoff, maxBackoff)
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(n.sendCtx, n.cfg.Timeout)
		err := it.send(ctx)
		cancel()
		if err == nil {
			c.mu.Lock()
			c.sent++
			c.mu.Unlock()
			lvl := slog.LevelInfo
			if c.kind == "ping" {
				lvl = slog.LevelDebug // every run pings twice: not news
			}
			n.log.Log(context.Background(), lvl, "notification sent", "channel", c.kind, "url", c.display, "what", it.what, "attempt", attempt+1)
			n.changed()
			return
		}
		msg := n.errText(err)
		var perm permanent
		last := attempt >= n.cfg.Retries || errors.As(err, &perm) || n.sendCtx.Err() != nil
		if last {
			c.mu.Lock()
			c.failed++
			c.mu.Unlock()
			n.log.Warn("notification failed; giving up", "channel", c.kind, "url", c.display, "what", it.what, "attempts", attempt+1, "err", msg)
			n.setLastError(LastError{Channel: c.kind, URL: c.display, What: it.what, Error: msg, Time: n.cfg.Now().UTC().Format(time.RFC3339)})
			n.changed()
			return
		}
		wait := b.Next()
		n.log.Warn("notification failed; will retry", "channel", c.kind, "url", c.display, "what", it.what, "attempt", attempt+1, "retry_in", wait, "err", msg)
		n.setLastError(LastError{Channel: c.kind, URL: c.display, What: it.what, Error: msg, Time: n.cfg.Now().UTC().Format(time.RFC3339)})
		n.changed()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.sendCtx.Done():
			t.Stop()
		case <-n.closing:
			// Stopping: try again at once while Close's deadline lasts.
			t.Stop()
		}
	}
}

func (c *channel) status() ChannelStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ChannelStatus{Channel: c.kind, URL: c.display, Sent: c.sent, Failed: c.failed, Dropped: c.dropped, Queued: len(c.queue)}
}

// errText is err for the log and the status: without the URL a *url.Error
// quotes (its tokens), masked.
func (n *Notifier) errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return n.red.String(err.Error())
}
