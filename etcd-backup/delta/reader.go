package delta

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// Record is one entry of a delta: an event or a lease.
type Record struct {
	Event *mvccpb.Event // nil for a lease
	Lease Lease
}

// Reader reads a delta stream and checks it as it goes: Next returns io.EOF
// only after the trailer's counts and the checksum matched and nothing
// followed them.
type Reader struct {
	r      *bufio.Reader
	h      hash.Hash
	hdr    Header
	st     Stats // counted while reading
	last   int64
	done   bool
	buf    []byte
	header bool
}

// NewReader reads the magic line and the header.
func NewReader(r io.Reader) (*Reader, error) {
	dr := &Reader{r: bufio.NewReaderSize(r, 256<<10), h: sha256.New()}
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(dr.r, magic); err != nil {
		return nil, fmt.Errorf("%w: no delta header: %w", ErrCorrupt, eofIsUnexpected(err))
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("%w: not a cronbox etcd delta (it starts %q)", ErrCorrupt, bytes.TrimSpace(magic))
	}
	dr.h.Write(magic)
	kind, payload, err := dr.next()
	if err != nil {
		return nil, err
	}
	if kind != kindHeader {
		return nil, fmt.Errorf("%w: first record is %q, not the header", ErrCorrupt, kind)
	}
	if err := json.Unmarshal(payload, &dr.hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrCorrupt, err)
	}
	if dr.hdr.From < 1 || dr.hdr.To < dr.hdr.From {
		return nil, fmt.Errorf("%w: header says revisions %d to %d", ErrCorrupt, dr.hdr.From, dr.hdr.To)
	}
	return dr, nil
}

// Header is the delta's header.
func (r *Reader) Header() Header { return r.hdr }

// Stats is what was read so far (the whole delta once Next returned io.EOF).
func (r *Reader) Stats() Stats { return r.st }

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// next reads one record and adds it to the hash.
func (r *Reader) next() (byte, []byte, error) {
	kind, err := r.r.ReadByte()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrCorrupt, eofIsUnexpected(err))
	}
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: record length: %w", ErrCorrupt, eofIsUnexpected(err))
	}
	if n > maxRecord {
		return 0, nil, fmt.Errorf("%w: a %q record of %d bytes", ErrCorrupt, kind, n)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	payload := r.buf[:n]
	if _, err := io.ReadFull(r.r, payload); err != nil {
		return 0, nil, fmt.Errorf("%w: %q record: %w", ErrCorrupt, kind, eofIsUnexpected(err))
	}
	var pre [1 + binary.MaxVarintLen64]byte
	pre[0] = kind
	r.h.Write(pre[:1+binary.PutUvarint(pre[1:], n)])
	r.h.Write(payload)
	return kind, payload, nil
}

// Next returns the next record. The event it returns is new each time and
// stays valid. At the end it checks the trailer and returns io.EOF, or an
// error wrapping ErrCorrupt.
func (r *Reader) Next() (Record, error) {
	if r.done {
		return Record{}, io.EOF
	}
	kind, payload, err := r.next()
	if err != nil {
		return Record{}, err
	}
	switch kind {
	case kindEvent:
		ev := new(mvccpb.Event)
		if err := proto.Unmarshal(payload, ev); err != nil {
			return Record{}, fmt.Errorf("%w: event %d: %w", ErrCorrupt, r.st.Events+1, err)
		}
		kv := ev.GetKv()
		rev := kv.GetModRevision()
		if len(kv.GetKey()) == 0 || rev < r.hdr.From || rev > r.hdr.To || rev < r.last {
			return Record{}, fmt.Errorf("%w: event %d at revision %d: outside %d-%d or out of order", ErrCorrupt, r.st.Events+1, rev, r.hdr.From, r.hdr.To)
		}
		r.last = rev
		r.st.count(ev)
		return Record{Event: ev}, nil
	case kindLease:
		if len(payload) != 16 {
			return Record{}, fmt.Errorf("%w: a lease record of %d bytes", ErrCorrupt, len(payload))
		}
		r.st.Leases++
		return Record{Lease: Lease{ID: int64(binary.BigEndian.Uint64(payload[:8])), TTL: int64(binary.BigEndian.Uint64(payload[8:]))}}, nil
	case kindTrailer:
		return Record{}, r.finish(payload)
	}
	return Record{}, fmt.Errorf("%w: unknown record kind %q", ErrCorrupt, kind)
}

func (r *Reader) finish(payload []byte) error {
	var want Stats
	if err := json.Unmarshal(payload, &want); err != nil {
		return fmt.Errorf("%w: trailer: %w", ErrCorrupt, err)
	}
	sum := r.h.Sum(nil)
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(r.r, got); err != nil {
		return fmt.Errorf("%w: checksum: %w", ErrCorrupt, eofIsUnexpected(err))
	}
	if !bytes.Equal(sum, got) {
		return fmt.Errorf("%w: the content hashes to %x, its checksum says %x", ErrCorrupt, sum, got)
	}
	if want != r.st {
		return fmt.Errorf("%w: the trailer counts %+v, the delta holds %+v", ErrCorrupt, want, r.st)
	}
	if _, err := r.r.ReadByte(); !errors.Is(err, io.EOF) {
		if err == nil {
			return fmt.Errorf("%w: data after the checksum", ErrCorrupt)
		}
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	r.done = true
	return io.EOF
}
