// Package dump is etcd-backup's logical export and import: the keys and
// values under a prefix as one JSON document, read at one revision and
// portable across etcd versions (it is the successor of the original
// image's v2 JSON dump; leases and history are not carried). The format,
// one key per line so that it streams both ways:
//
//	{"format":"cronbox-etcd-dump-v1","prefix":"/app/","revision":42,"count":2,"kvs":[
//	{"key":"/app/a","value":"text"},
//	{"key":"/app/b","value_base64":"AAEC"}
//	]}
//
// A key or value that is not valid UTF-8 is written as key_base64/value_base64.
package dump

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Format names the document format.
const Format = "cronbox-etcd-dump-v1"

// KV is one key and value in a dump.
type KV struct {
	Key         string `json:"key,omitempty"`
	KeyBase64   string `json:"key_base64,omitempty"`
	Value       string `json:"value"`
	ValueBase64 string `json:"value_base64,omitempty"`
}

func encodeKV(k, v []byte) KV {
	var kv KV
	if utf8.Valid(k) {
		kv.Key = string(k)
	} else {
		kv.KeyBase64 = base64.StdEncoding.EncodeToString(k)
	}
	if utf8.Valid(v) {
		kv.Value = string(v)
	} else {
		kv.ValueBase64 = base64.StdEncoding.EncodeToString(v)
	}
	return kv
}

// Bytes returns the key and value as etcd stores them.
func (kv KV) Bytes() (k, v []byte, err error) {
	k = []byte(kv.Key)
	if kv.KeyBase64 != "" {
		if k, err = base64.StdEncoding.DecodeString(kv.KeyBase64); err != nil {
			return nil, nil, fmt.Errorf("key_base64: %w", err)
		}
	}
	if len(k) == 0 {
		return nil, nil, errors.New("entry without a key")
	}
	v = []byte(kv.Value)
	if kv.ValueBase64 != "" {
		if v, err = base64.StdEncoding.DecodeString(kv.ValueBase64); err != nil {
			return nil, nil, fmt.Errorf("value_base64 of %q: %w", k, err)
		}
	}
	return k, v, nil
}

// Stats says what a dump or load did.
type Stats struct {
	Prefix   string `json:"prefix"`
	Revision int64  `json:"revision"`
	Keys     int    `json:"keys"`
	Bytes    int64  `json:"bytes"`
}

// rangeOf is the [start, end) of keys under prefix ("" = every key).
func rangeOf(prefix string) (start, end string) {
	if prefix == "" {
		return "\x00", "\x00" // from the smallest key on
	}
	return prefix, clientv3.GetPrefixRangeEnd(prefix)
}

// Dump writes every key under prefix, as of one revision, to w. Pages of
// pageSize keys keep memory small on big keyspaces; a revision compacted
// during the dump fails it rather than mixing two points in time.
func Dump(ctx context.Context, kv clientv3.KV, prefix string, pageSize int, w io.Writer) (Stats, error) {
	if pageSize <= 0 {
		pageSize = 1000
	}
	st := Stats{Prefix: prefix}
	bw := bufio.NewWriterSize(w, 256<<10)
	start, end := rangeOf(prefix)
	var rev int64
	first := true
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(pageSize)), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := kv.Get(ctx, start, opts...)
		if err != nil {
			return st, fmt.Errorf("get %q: %w", start, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
			st.Revision = rev
			head, _ := json.Marshal(struct {
				Format   string `json:"format"`
				Prefix   string `json:"prefix"`
				Revision int64  `json:"revision"`
			}{Format, prefix, rev})
			bw.Write(head[:len(head)-1])
			bw.WriteString(`,"kvs":[`)
		}
		for _, e := range resp.Kvs {
			line, err := json.Marshal(encodeKV(e.Key, e.Value))
			if err != nil {
				return st, err
			}
			if first {
				bw.WriteString("\n")
				first = false
			} else {
				bw.WriteString(",\n")
			}
			bw.Write(line)
			st.Keys++
			st.Bytes += int64(len(e.Value))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	fmt.Fprintf(bw, "\n],\"count\":%d}\n", st.Keys)
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write dump: %w", err)
	}
	return st, nil
}

// ErrExists is wrapped when load meets a key that already exists and was
// not told to overwrite.
var ErrExists = errors.New("key already exists")

// Load reads a dump from r and puts its keys, batchSize per transaction.
// Without overwrite, each transaction puts its keys only if none of them
// exists, and the load stops at the first batch that meets an existing key
// (naming it); batches before it stay loaded, and Stats says how many keys.
func Load(ctx context.Context, kv clientv3.KV, r io.Reader, overwrite bool, batchSize int) (Stats, error) {
	if batchSize <= 0 || batchSize > 100 {
		batchSize = 100 // etcd's default --max-txn-ops is 128
	}
	var st Stats
	dec := json.NewDecoder(bufio.NewReaderSize(r, 256<<10))
	if err := expectDelim(dec, '{'); err != nil {
		return st, err
	}
	sawFormat := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return st, fmt.Errorf("read dump: %w", err)
		}
		field, _ := tok.(string)
		switch field {
		case "format":
			var f string
			if err := dec.Decode(&f); err != nil {
				return st, fmt.Errorf("read dump: format: %w", err)
			}
			if f != Format {
				return st, fmt.Errorf("read dump: format %q, want %q", f, Format)
			}
			sawFormat = true
		case "prefix":
			if err := dec.Decode(&st.Prefix); err != nil {
				return st, fmt.Errorf("read dump: prefix: %w", err)
			}
		case "kvs":
			if !sawFormat {
				return st, fmt.Errorf("read dump: not a %s document (no format before kvs)", Format)
			}
			if err := loadKVs(ctx, kv, dec, overwrite, batchSize, &st); err != nil {
				return st, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return st, fmt.Errorf("read dump: %s: %w", field, err)
			}
		}
	}
	if !sawFormat {
		return st, fmt.Errorf("read dump: not a %s document", Format)
	}
	return st, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("read dump: %w", err)
	}
	if tok != d {
		return fmt.Errorf("read dump: want %q, got %v", d, tok)
	}
	return nil
}

func loadKVs(ctx context.Context, kv clientv3.KV, dec *json.Decoder, overwrite bool, batchSize int, st *Stats) error {
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	var keys, vals [][]byte
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		var cmps []clientv3.Cmp
		puts := make([]clientv3.Op, len(keys))
		for i := range keys {
			puts[i] = clientv3.OpPut(string(keys[i]), string(vals[i]))
			if !overwrite {
				cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(string(keys[i])), "=", 0))
			}
		}
		resp, err := kv.Txn(ctx).If(cmps...).Then(puts...).Commit()
		if err != nil {
			return fmt.Errorf("put %d keys from %q: %w", len(keys), keys[0], err)
		}
		if !resp.Succeeded {
			for _, k := range keys {
				g, err := kv.Get(ctx, string(k), clientv3.WithCountOnly())
				if err == nil && g.Count > 0 {
					return fmt.Errorf("%w: %q (give --overwrite to replace existing keys; %d keys loaded before it)", ErrExists, k, st.Keys)
				}
			}
			return fmt.Errorf("%w: one of %d keys from %q (give --overwrite; %d keys loaded before)", ErrExists, len(keys), keys[0], st.Keys)
		}
		st.Keys += len(keys)
		if resp.Header.Revision > st.Revision {
			st.Revision = resp.Header.Revision
		}
		keys, vals = keys[:0], vals[:0]
		return nil
	}
	for dec.More() {
		var e KV
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("read dump: entry %d: %w", st.Keys+len(keys)+1, err)
		}
		k, v, err := e.Bytes()
		if err != nil {
			return fmt.Errorf("read dump: entry %d: %w", st.Keys+len(keys)+1, err)
		}
		keys, vals = append(keys, k), append(vals, v)
		st.Bytes += int64(len(v))
		if len(keys) == batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return expectDelim(dec, ']')
}
