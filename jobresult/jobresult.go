// Package jobresult is the record a job hands go-cron when it finishes: one
// JSON object in the file whose path go-cron passes each run in
// GOCRON_RESULT_FILE. etcd-backup and es-snapshot write what they wrote
// (where, how big, its SHA-256, the etcd revision or the snapshot's shards)
// and go-cron shows it with the run and as the last good backup. A shell
// job can write the same object with printf; every field is optional, and
// fields go-cron does not know are kept and shown as they are.
package jobresult

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// Env names the variable that carries the result file's path.
const Env = "GOCRON_RESULT_FILE"

// MaxSize is the most go-cron reads of a result file; a larger one is
// refused (the run itself still counts as it exited).
const MaxSize = 64 << 10

// Result is what a job reports. The JSON names are the file format.
type Result struct {
	// What was written and where.
	Kind       string  `json:"kind,omitempty"`       // "etcd-snapshot", "es-snapshot", or the job's own word
	Location   string  `json:"location,omitempty"`   // s3://bucket/key, a path, or REPOSITORY/SNAPSHOT
	Repository string  `json:"repository,omitempty"` // a search snapshot's repository
	Snapshot   string  `json:"snapshot,omitempty"`   // a search snapshot's name
	Size       int64   `json:"size,omitempty"`       // bytes written
	SHA256     string  `json:"sha256,omitempty"`     // of the bytes written, hex
	Seconds    float64 `json:"seconds,omitempty"`    // how long the work took

	// How it was written; empty or false when not (or not said).
	Verified   bool   `json:"verified,omitempty"`   // read back and checked after writing
	Compressed string `json:"compressed,omitempty"` // the compression: "zstd", "gzip"
	Encrypted  string `json:"encrypted,omitempty"`  // the encryption: "age"
	Locked     string `json:"locked,omitempty"`     // the object lock: "COMPLIANCE until 2027-01-01T00:00:00Z"

	Etcd   *Etcd   `json:"etcd,omitempty"`
	Chain  *Chain  `json:"chain,omitempty"`  // an incremental backup's chain after the run
	Search *Search `json:"search,omitempty"` // an Elasticsearch/OpenSearch snapshot

	Message string `json:"message,omitempty"` // one line for people
}

// Etcd describes an etcd snapshot.
type Etcd struct {
	Revision  int64  `json:"revision,omitempty"`
	MemberID  string `json:"member_id,omitempty"`
	ClusterID string `json:"cluster_id,omitempty"`
	Version   string `json:"version,omitempty"` // the server's
	Endpoint  string `json:"endpoint,omitempty"`
}

// Chain is an incremental backup chain (etcd-backup save --incremental)
// after the run: the full snapshot a restore of its newest point starts
// from, the deltas since, and the newest revision covered with the time it
// was read as the newest: the recovery point.
type Chain struct {
	Full         string    `json:"full,omitempty"` // s3://bucket/key
	FullTime     time.Time `json:"full_time"`
	FullRevision int64     `json:"full_revision,omitempty"`
	Deltas       int       `json:"deltas"`
	DeltaBytes   int64     `json:"delta_bytes,omitempty"`
	Revision     int64     `json:"revision,omitempty"`
	Time         time.Time `json:"time"` // the recovery point
}

// Search describes an Elasticsearch/OpenSearch snapshot.
type Search struct {
	State      string   `json:"state,omitempty"` // SUCCESS
	UUID       string   `json:"uuid,omitempty"`
	Version    string   `json:"version,omitempty"` // the server's
	Indices    []string `json:"indices,omitempty"` // at most MaxIndices of them
	IndexCount int      `json:"index_count,omitempty"`
	Shards     Shards   `json:"shards"`
}

// Shards counts a snapshot's shards.
type Shards struct {
	Total      int `json:"total"`
	Successful int `json:"successful"`
	Failed     int `json:"failed"`
}

// MaxIndices is how many index names a Search lists; IndexCount has all.
const MaxIndices = 100

// SetIndices lists names (up to MaxIndices) and counts them all.
func (s *Search) SetIndices(names []string) {
	s.IndexCount = len(names)
	s.Indices = append([]string(nil), names[:min(len(names), MaxIndices)]...)
}

// Write writes r to the file named by GOCRON_RESULT_FILE, as getenv reads
// it, and does nothing when that is unset (a run outside go-cron).
func Write(getenv func(string) string, r Result) error {
	path := getenv(Env)
	if path == "" {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", Env, path, err)
	}
	if len(b) > MaxSize {
		return fmt.Errorf("%s %s: the result is %d bytes, more than go-cron reads (%d)", Env, path, len(b), MaxSize)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("%s: %w", Env, err)
	}
	return nil
}

// Update reads the file named by GOCRON_RESULT_FILE, lets change modify the
// result in it, and writes it back; change reports whether it changed
// anything (it gets an empty Result when the job has written none yet).
// Nothing happens when the variable is unset.
func Update(getenv func(string) string, change func(*Result) bool) error {
	path := getenv(Env)
	if path == "" {
		return nil
	}
	_, r, err := Read(path, nil)
	if err != nil {
		return err
	}
	if !change(&r) {
		return nil
	}
	return Write(getenv, r)
}

// Report is Write for a tool's last step: a result that cannot be written
// is logged as a warning, not an error, because the work it describes is
// done and good.
func Report(getenv func(string) string, log *slog.Logger, r Result) {
	if err := Write(getenv, r); err != nil {
		log.Warn("could not hand the result to go-cron; the work itself succeeded", "err", err)
	}
}

// ErrTooLarge is a result file over MaxSize.
var ErrTooLarge = fmt.Errorf("larger than %d bytes", MaxSize)

// Read reads a result file: at most MaxSize bytes holding one JSON object.
// An empty file (the job wrote nothing) gives nil and no error. mask, when
// not nil, is applied to every string in the object (go-cron hides secrets
// with it) before raw is re-encoded and r decoded from it. raw keeps fields
// Result does not know; when a known field has the wrong type, raw is still
// returned with the error.
func Read(path string, mask func(string) string) (raw json.RawMessage, r Result, err error) {
	// The job may have put something else at the path: a symlink is not
	// followed, and a FIFO (or device) is refused without blocking on it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, r, fmt.Errorf("%s: %w", Env, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, r, fmt.Errorf("%s %s: not a regular file", Env, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, r, fmt.Errorf("%s: %w", Env, err)
	}
	if len(b) > MaxSize {
		return nil, r, fmt.Errorf("%s: %w", Env, ErrTooLarge)
	}
	return Parse(b, mask)
}

// Parse is Read for bytes already read.
func Parse(b []byte, mask func(string) string) (raw json.RawMessage, r Result, err error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, r, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // sizes above 2^53 stay exact
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, r, fmt.Errorf("%s: not JSON: %w", Env, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, r, fmt.Errorf("%s: want one JSON object, found %s", Env, kind(v))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, r, fmt.Errorf("%s: want one JSON object, found more after it", Env)
	}
	if mask != nil {
		v = maskAll(v, mask)
	}
	raw, err = json.Marshal(v)
	if err != nil { // cannot happen: v came from JSON
		return nil, r, fmt.Errorf("%s: %w", Env, err)
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return raw, Result{}, fmt.Errorf("%s: %w", Env, err)
	}
	return raw, r, nil
}

func kind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	default:
		return "null"
	}
}

// maskAll applies mask to every string in v, keys included.
func maskAll(v any, mask func(string) string) any {
	switch x := v.(type) {
	case string:
		return mask(x)
	case []any:
		for i := range x {
			x[i] = maskAll(x[i], mask)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[mask(k)] = maskAll(e, mask)
		}
		return out
	default:
		return v
	}
}
