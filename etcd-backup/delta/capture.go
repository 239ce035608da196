package delta

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Client is what Capture needs of an etcd client (*clientv3.Client has it).
type Client interface {
	Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan
	RequestProgress(ctx context.Context) error
	TimeToLive(ctx context.Context, id clientv3.LeaseID, opts ...clientv3.LeaseOption) (*clientv3.LeaseTimeToLiveResponse, error)
}

// CaptureOptions say which revisions to read.
type CaptureOptions struct {
	// Head is the newest revision the chain holds; the delta starts at Head+1.
	Head int64
	// To is the newest revision, read from the member just before.
	To int64
	// HeadFingerprint, when set, is what Fingerprint said of Head when the
	// chain's newest delta was taken: the events at Head must match it, or
	// this etcd's history is not the chain's (a restored or replaced cluster).
	HeadFingerprint string
	// ProgressNotify lets a progress notification end the watch when
	// revision To has no events to deliver. Only etcd 3.5 and later
	// send it after every earlier event; 3.4 may send it early.
	ProgressNotify bool
}

// Result is what Capture read.
type Result struct {
	Stats
	// Fingerprint identifies the events at revision To, for the next run's HeadFingerprint.
	Fingerprint string
}

// CompactedError: the revisions after Head are no longer in etcd's history.
type CompactedError struct {
	Head, Compacted int64
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("revision %d is compacted (etcd keeps revisions from %d): a delta cannot start there", e.Head+1, e.Compacted)
}

// HistoryError: etcd's events at the chain's head are not those the chain recorded.
type HistoryError struct {
	Head      int64
	Want, Got string
}

func (e *HistoryError) Error() string {
	got := e.Got
	if got == "" {
		got = "no events"
	}
	return fmt.Sprintf("etcd's revision %d is not the chain's (it holds %s, the chain recorded %s): a restored or replaced cluster", e.Head, got, e.Want)
}

// Capture watches every key from Head to To and writes the events of
// Head+1 to To to w, then the leases their keys are attached to. When To
// equals Head nothing is written and w may be nil; the head is still
// checked. Events after To are not written.
func Capture(ctx context.Context, cli Client, o CaptureOptions, w *Writer) (Result, error) {
	if o.Head < 1 || o.To < o.Head {
		return Result{}, fmt.Errorf("capture: head %d, to %d", o.Head, o.To)
	}
	// With a fingerprint to check, the watch starts at Head itself, whose
	// events come first; without, at Head+1 (Head may be compacted).
	c := &capture{cli: cli, o: o, w: w, checked: o.HeadFingerprint == "",
		headFP: newFingerprint(o.Head), leases: map[int64]int64{}}
	if c.checked && o.To == o.Head {
		return Result{}, nil
	}
	start := o.Head
	if c.checked {
		start++
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := cli.Watch(wctx, "", clientv3.WithPrefix(), clientv3.WithRev(start))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for c.last < o.To || !c.checked {
		select {
		case resp, ok := <-ch:
			if !ok {
				if err := ctx.Err(); err != nil {
					return Result{}, fmt.Errorf("watch from revision %d: %w", o.Head, context.Cause(ctx))
				}
				return Result{}, fmt.Errorf("watch from revision %d: the watch ended before revision %d", o.Head, o.To)
			}
			if err := c.response(ctx, resp); err != nil {
				return Result{}, err
			}
		case <-tick.C:
			if o.ProgressNotify {
				_ = cli.RequestProgress(wctx) // best effort: the events still end the watch
			}
		case <-ctx.Done():
			return Result{}, fmt.Errorf("watch from revision %d: %w", o.Head, context.Cause(ctx))
		}
	}
	cancel()
	return c.finish()
}

// capture is one Capture under way: what the watch has delivered, the
// fingerprints of the chain's head (to check) and of revision To (for the
// next run), and the leases the written keys are attached to.
type capture struct {
	cli Client
	o   CaptureOptions
	w   *Writer

	last    int64 // newest revision delivered
	checked bool  // the head's fingerprint matched (or there was none to check)
	headFP  *fingerprint
	toFP    *fingerprint // the newest revision written

	// A lease's granted TTL is asked for when its first key goes by: the
	// sooner, the likelier it is still alive (a lease revoked or expired
	// before that restores with etcd's minimum TTL).
	leases     map[int64]int64
	leaseOrder []int64
}

// response takes one answer of the watch.
func (c *capture) response(ctx context.Context, resp clientv3.WatchResponse) error {
	if resp.CompactRevision != 0 {
		return &CompactedError{Head: c.o.Head, Compacted: resp.CompactRevision}
	}
	if err := resp.Err(); err != nil {
		return fmt.Errorf("watch from revision %d: %w", c.o.Head, err)
	}
	if resp.IsProgressNotify() {
		if c.o.ProgressNotify && resp.Header.Revision >= c.o.To {
			// Everything up to To was delivered; revision To's events were
			// compacted away (deletes at the compaction revision).
			c.last = c.o.To
			return c.check()
		}
		return nil
	}
	for _, ev := range resp.Events {
		if ev.Kv.ModRevision > c.o.To {
			c.last = ev.Kv.ModRevision
			break
		}
		if err := c.event(ctx, ev); err != nil {
			return err
		}
	}
	if c.last >= c.o.To {
		return c.check()
	}
	return nil
}

// event takes one event at or before To: the head's go into its
// fingerprint, the later ones to the delta.
func (c *capture) event(ctx context.Context, ev *clientv3.Event) error {
	rev := ev.Kv.ModRevision
	c.last = rev
	if rev == c.o.Head {
		c.headFP.add(ev)
		return nil
	}
	if err := c.check(); err != nil {
		return err
	}
	if c.toFP == nil || c.toFP.rev != rev {
		c.toFP = newFingerprint(rev)
	}
	c.toFP.add(ev)
	if err := c.w.Event(ev); err != nil {
		return err
	}
	if id := ev.Kv.Lease; id != 0 && ev.Type == mvccpb.Event_PUT {
		if _, seen := c.leases[id]; !seen {
			c.leases[id] = c.grantedTTL(ctx, id)
			c.leaseOrder = append(c.leaseOrder, id)
		}
	}
	return nil
}

// check compares the head's events with the chain's record, once: every
// event after the head is past it.
func (c *capture) check() error {
	if c.checked {
		return nil
	}
	c.checked = true
	if got := c.headFP.String(); got != c.o.HeadFingerprint {
		return &HistoryError{Head: c.o.Head, Want: c.o.HeadFingerprint, Got: got}
	}
	return nil
}

func (c *capture) grantedTTL(ctx context.Context, id int64) int64 {
	r, err := c.cli.TimeToLive(ctx, clientv3.LeaseID(id))
	if err != nil || r.TTL <= 0 {
		return 0
	}
	return r.GrantedTTL
}

// finish writes the leases and says what was read.
func (c *capture) finish() (Result, error) {
	var res Result
	switch {
	case c.o.To == c.o.Head:
		res.Fingerprint = c.o.HeadFingerprint
	case c.toFP != nil && c.toFP.rev == c.o.To:
		res.Fingerprint = c.toFP.String()
	}
	for _, id := range c.leaseOrder {
		if err := c.w.Lease(Lease{ID: id, TTL: c.leases[id]}); err != nil {
			return res, err
		}
	}
	if c.w != nil {
		res.Stats = c.w.Stats()
	}
	return res, nil
}

// fingerprint hashes the events of one revision: the keys, values, leases,
// versions and kinds, in etcd's order.
type fingerprint struct {
	rev int64
	h   hash.Hash
	n   int
}

func newFingerprint(rev int64) *fingerprint { return &fingerprint{rev: rev, h: sha256.New()} }

func (f *fingerprint) add(ev *mvccpb.Event) {
	kv := ev.Kv
	var b [8]byte
	f.h.Write([]byte{byte(ev.Type)})
	for _, v := range []int64{int64(len(kv.Key)), int64(len(kv.Value)), kv.CreateRevision, kv.Version, kv.Lease} {
		binary.BigEndian.PutUint64(b[:], uint64(v))
		f.h.Write(b[:])
	}
	f.h.Write(kv.Key)
	f.h.Write(kv.Value)
	f.n++
}

// String is "REVISION:EVENTS:SHA256-PREFIX", or "" when the revision had no events.
func (f *fingerprint) String() string {
	if f.n == 0 {
		return ""
	}
	return fmt.Sprintf("%d:%d:%x", f.rev, f.n, f.h.Sum(nil)[:12])
}

// IsCompacted reports whether err says the chain's revisions are compacted.
func IsCompacted(err error) bool {
	var c *CompactedError
	return errors.As(err, &c)
}

// IsHistory reports whether err says etcd's history is not the chain's.
func IsHistory(err error) bool {
	var h *HistoryError
	return errors.As(err, &h)
}
