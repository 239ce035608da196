// Package delta is an incremental etcd backup: every change etcd made
// between two revisions, read with a watch (Capture) and written as one
// self-checking stream (Writer, Reader). A delta holds each revision's
// events exactly as etcd stored them (mvccpb.Event: the key, its value,
// create and mod revisions, version and lease, or the deletion), in
// revision order, then the leases those keys were attached to, then a
// trailer with the counts and the SHA-256 of everything before it, so a
// truncated or damaged delta is refused by the reader itself, whatever
// compression or encryption it was stored under.
//
// The stream: the magic line, then records of one kind byte, a uvarint
// length and a payload:
//
//	'H' the header, JSON (Header)
//	'E' one event, protobuf (mvccpb.Event)
//	'L' one lease: its ID and granted TTL in seconds, 8 bytes each, big-endian (TTL 0: unknown)
//	'T' the trailer, JSON (Stats)
//
// and after the trailer the 32-byte SHA-256 of every byte before them.
package delta

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// Magic starts every delta stream.
const Magic = "cronbox-etcd-delta v1\n"

// Format names the stream in object metadata.
const Format = "etcd-delta-v1"

const (
	kindHeader  = 'H'
	kindEvent   = 'E'
	kindLease   = 'L'
	kindTrailer = 'T'
	// maxRecord bounds one record: etcd refuses requests over
	// --max-request-bytes (1.5 MiB by default); a length beyond this is damage.
	maxRecord = 256 << 20
)

// ErrCorrupt is wrapped by every failure of a delta's own checks.
var ErrCorrupt = errors.New("delta damaged or truncated")

// Header says what a delta covers and what it builds on.
type Header struct {
	From         int64     `json:"from"` // first revision covered
	To           int64     `json:"to"`   // last revision covered
	ClusterID    string    `json:"cluster_id"`
	MemberID     string    `json:"member_id"`
	Base         string    `json:"base"`          // the full snapshot the chain builds on (its name under the prefix)
	BaseRevision int64     `json:"base_revision"` // that snapshot's revision
	EtcdVersion  string    `json:"etcd_version,omitempty"`
	Time         time.Time `json:"time"` // when revision To was read as the newest
}

// Stats counts what a delta holds; the trailer carries them.
type Stats struct {
	Events  int64 `json:"events"`
	Puts    int64 `json:"puts"`
	Deletes int64 `json:"deletes"`
	Leases  int64 `json:"leases"`
	Bytes   int64 `json:"bytes"` // keys and values of the events
	// First and Last are the revisions of the first and last event (0: none).
	First int64 `json:"first_revision"`
	Last  int64 `json:"last_revision"`
}

// count adds one event, at its key's revision, to the stats; the writer and
// the reader count alike, so that the trailer's stats can be compared.
func (st *Stats) count(ev *mvccpb.Event) {
	kv := ev.GetKv()
	st.Events++
	if ev.Type == mvccpb.Event_DELETE {
		st.Deletes++
	} else {
		st.Puts++
	}
	st.Bytes += int64(len(kv.GetKey()) + len(kv.GetValue()))
	if st.First == 0 {
		st.First = kv.GetModRevision()
	}
	st.Last = kv.GetModRevision()
}

// Lease is a lease some key in the delta is attached to.
type Lease struct {
	ID  int64
	TTL int64 // granted TTL in seconds; 0 when it was gone before the delta was taken
}

// Writer writes one delta stream.
type Writer struct {
	dst    io.Writer
	w      *bufio.Writer
	h      hash.Hash
	hdr    Header
	st     Stats
	buf    []byte
	closed bool
	err    error
}

// NewWriter writes the magic line and h to w.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	if h.From < 1 || h.To < h.From {
		return nil, fmt.Errorf("delta header: revisions %d to %d", h.From, h.To)
	}
	dw := &Writer{dst: w, h: sha256.New(), hdr: h}
	dw.w = bufio.NewWriterSize(io.MultiWriter(w, dw.h), 256<<10)
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if _, err := dw.w.WriteString(Magic); err != nil {
		return nil, err
	}
	return dw, dw.record(kindHeader, b)
}

func (w *Writer) record(kind byte, payload []byte) error {
	if w.err != nil {
		return w.err
	}
	var pre [1 + binary.MaxVarintLen64]byte
	pre[0] = kind
	n := binary.PutUvarint(pre[1:], uint64(len(payload)))
	if _, err := w.w.Write(pre[:1+n]); err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(payload); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Event appends one event. Events come in revision order, and a revision's
// events in the order etcd made them (as a watch delivers them); each must
// lie within the header's revisions.
func (w *Writer) Event(ev *mvccpb.Event) error {
	kv := ev.GetKv()
	rev := kv.GetModRevision()
	if rev < w.hdr.From || rev > w.hdr.To || rev < w.st.Last {
		return fmt.Errorf("delta %d-%d: event at revision %d out of order or range (last %d)", w.hdr.From, w.hdr.To, rev, w.st.Last)
	}
	var err error
	w.buf, err = proto.MarshalOptions{Deterministic: true}.MarshalAppend(w.buf[:0], ev)
	if err != nil {
		return fmt.Errorf("delta: encode event: %w", err)
	}
	if err := w.record(kindEvent, w.buf); err != nil {
		return err
	}
	w.st.count(ev)
	return nil
}

// Lease appends one lease.
func (w *Writer) Lease(l Lease) error {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(l.ID))
	binary.BigEndian.PutUint64(b[8:], uint64(l.TTL))
	if err := w.record(kindLease, b[:]); err != nil {
		return err
	}
	w.st.Leases++
	return nil
}

// Stats is what was written so far.
func (w *Writer) Stats() Stats { return w.st }

// Close writes the trailer and the checksum and flushes; it does not close
// the underlying writer. A stream that was not closed does not read back.
func (w *Writer) Close() (Stats, error) {
	if w.closed {
		return w.st, w.err
	}
	w.closed = true
	b, err := json.Marshal(w.st)
	if err != nil {
		return w.st, err
	}
	if err := w.record(kindTrailer, b); err != nil {
		return w.st, err
	}
	if err := w.w.Flush(); err != nil {
		w.err = err
		return w.st, err
	}
	sum := w.h.Sum(nil)
	// The checksum is not part of what it sums: write it past the hash.
	w.w.Reset(w.dst)
	if _, err := w.w.Write(sum); err != nil {
		w.err = err
		return w.st, err
	}
	w.err = w.w.Flush()
	return w.st, w.err
}
