package delta

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

func put(rev int64, key, val string, lease int64) *mvccpb.Event {
	return &mvccpb.Event{Type: mvccpb.Event_PUT, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte(val), CreateRevision: rev, ModRevision: rev, Version: 1, Lease: lease}}
}

func del(rev int64, key string) *mvccpb.Event {
	return &mvccpb.Event{Type: mvccpb.Event_DELETE, Kv: &mvccpb.KeyValue{Key: []byte(key), ModRevision: rev}}
}

func sample(t *testing.T) ([]byte, []*mvccpb.Event) {
	t.Helper()
	evs := []*mvccpb.Event{put(11, "/a", "1", 0), put(11, "/b", strings.Repeat("x", 100000), 7), del(12, "/a"), put(14, "/c", "", 0)}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{From: 11, To: 14, ClusterID: "c1", MemberID: "m1", Base: "etcd-x.db", BaseRevision: 10, Time: time.Unix(1, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := w.Event(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Lease(Lease{ID: 7, TTL: 60}); err != nil {
		t.Fatal(err)
	}
	st, err := w.Close()
	if err != nil || st.Events != 4 || st.Puts != 3 || st.Deletes != 1 || st.Leases != 1 || st.First != 11 || st.Last != 14 {
		t.Fatalf("close: %+v, %v", st, err)
	}
	return buf.Bytes(), evs
}

func readAll(b []byte) ([]Record, Header, error) {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, Header{}, err
	}
	var recs []Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs, r.Header(), nil
		}
		if err != nil {
			return recs, r.Header(), err
		}
		recs = append(recs, rec)
	}
}

func TestRoundTrip(t *testing.T) {
	b, evs := sample(t)
	recs, h, err := readAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.From != 11 || h.To != 14 || h.ClusterID != "c1" || h.Base != "etcd-x.db" || h.BaseRevision != 10 {
		t.Fatalf("header %+v", h)
	}
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	for i, ev := range evs {
		if !proto.Equal(recs[i].Event, ev) {
			t.Fatalf("event %d: %v, want %v", i, recs[i].Event, ev)
		}
	}
	if recs[4].Event != nil || recs[4].Lease != (Lease{ID: 7, TTL: 60}) {
		t.Fatalf("lease record %+v", recs[4])
	}
}

// Every damage is refused by the reader itself: truncation anywhere, a
// flipped bit anywhere, bytes after the end, another format.
func TestDamageIsRefused(t *testing.T) {
	b, _ := sample(t)
	for n := 0; n < len(b); n += max(1, len(b)/300) {
		if _, _, err := readAll(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: %v", n, len(b), err)
		}
	}
	for i := 0; i < len(b); i += max(1, len(b)/500) {
		bad := bytes.Clone(b)
		bad[i] ^= 0x10
		if _, _, err := readAll(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit flipped at %d of %d: %v", i, len(b), err)
		}
	}
	if _, _, err := readAll(append(bytes.Clone(b), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a byte after the checksum: %v", err)
	}
	if _, _, err := readAll([]byte("SQLite format 3\x00 and more bytes")); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not a cronbox etcd delta") {
		t.Fatalf("another format: %v", err)
	}
}

// The writer refuses events out of order or outside its header's range.
func TestWriterOrder(t *testing.T) {
	w, err := NewWriter(io.Discard, Header{From: 5, To: 9})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ev *mvccpb.Event
		ok bool
	}{{put(4, "/a", "", 0), false}, {put(6, "/a", "", 0), true}, {put(6, "/b", "", 0), true}, {put(5, "/c", "", 0), false}, {put(10, "/c", "", 0), false}, {del(9, "/a"), true}} {
		if err := w.Event(tc.ev); (err == nil) != tc.ok {
			t.Fatalf("event at %d: %v", tc.ev.Kv.ModRevision, err)
		}
	}
	if _, err := NewWriter(io.Discard, Header{From: 5, To: 4}); err == nil {
		t.Fatal("a header ending before it starts was accepted")
	}
}
