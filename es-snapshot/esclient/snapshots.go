package esclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error { *r = append((*r)[:0], b...); return nil }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Repository is a snapshot repository's registration.
type Repository struct {
	Type     string         `json:"type"`
	Settings map[string]any `json:"settings"`
}

// GetRepository returns the registration of name, or nil if there is none.
func (c *Client) GetRepository(ctx context.Context, name string) (*Repository, error) {
	var m map[string]Repository
	err := c.do(ctx, http.MethodGet, "/_snapshot/"+seg(name), nil, nil, &m)
	if IsStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, ok := m[name]
	if !ok {
		return nil, nil
	}
	return &r, nil
}

// PutRepository registers (or re-registers) a repository without the
// server's implicit verification: VerifyRepository does that explicitly.
func (c *Client) PutRepository(ctx context.Context, name string, r Repository) error {
	return c.do(ctx, http.MethodPut, "/_snapshot/"+seg(name), url.Values{"verify": {"false"}}, r, nil)
}

// VerifyRepository asks every node to write to and read from the repository
// and returns the names of the nodes that did.
func (c *Client) VerifyRepository(ctx context.Context, name string) ([]string, error) {
	var v struct {
		Nodes map[string]struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	if err := c.do(ctx, http.MethodPost, "/_snapshot/"+seg(name)+"/_verify", nil, nil, &v); err != nil {
		return nil, err
	}
	var names []string
	for id, n := range v.Nodes {
		if n.Name == "" {
			n.Name = id
		}
		names = append(names, n.Name)
	}
	return names, nil
}

// Snapshot states.
const (
	StateInProgress   = "IN_PROGRESS"
	StateSuccess      = "SUCCESS"
	StatePartial      = "PARTIAL"
	StateFailed       = "FAILED"
	StateIncompatible = "INCOMPATIBLE"
)

// Snapshot is one entry of GET _snapshot/<repo>/<names>.
type Snapshot struct {
	Name            string         `json:"snapshot"`
	UUID            string         `json:"uuid"`
	Repository      string         `json:"repository"` // ES 7.13+ only
	Version         string         `json:"version"`
	Indices         []string       `json:"indices"`
	State           string         `json:"state"`
	Reason          string         `json:"reason"` // FAILED snapshots say why
	StartTimeMillis int64          `json:"start_time_in_millis"`
	EndTimeMillis   int64          `json:"end_time_in_millis"`
	DurationMillis  int64          `json:"duration_in_millis"`
	Failures        []ShardFailure `json:"failures"`
	Shards          ShardCounts    `json:"shards"`
	Metadata        map[string]any `json:"metadata"`
	IndexDetails    map[string]struct {
		SizeInBytes int64 `json:"size_in_bytes"`
	} `json:"index_details"` // only with index_details=true (ES 7.13+)
}

// ShardCounts is a snapshot's shard summary.
type ShardCounts struct {
	Total      int `json:"total"`
	Failed     int `json:"failed"`
	Successful int `json:"successful"`
}

// ShardFailure is one shard a snapshot could not copy.
type ShardFailure struct {
	Index   string      `json:"index"`
	ShardID json.Number `json:"shard_id"`
	Reason  string      `json:"reason"`
	NodeID  string      `json:"node_id"`
	Status  string      `json:"status"`
}

// Start is when the snapshot started (zero if the server did not say).
func (s Snapshot) Start() time.Time {
	if s.StartTimeMillis == 0 {
		return time.Time{}
	}
	return time.UnixMilli(s.StartTimeMillis).UTC()
}

// Duration is how long the snapshot took (so far, for a running one).
func (s Snapshot) Duration(now time.Time) time.Duration {
	if s.DurationMillis > 0 {
		return time.Duration(s.DurationMillis) * time.Millisecond
	}
	if s.State == StateInProgress && s.StartTimeMillis > 0 {
		return now.Sub(s.Start())
	}
	if s.EndTimeMillis > s.StartTimeMillis && s.StartTimeMillis > 0 {
		return time.Duration(s.EndTimeMillis-s.StartTimeMillis) * time.Millisecond
	}
	return 0
}

// Size is the sum of the per-index sizes, or -1 when the server did not say.
func (s Snapshot) Size() int64 {
	if s.IndexDetails == nil {
		return -1
	}
	var n int64
	for _, d := range s.IndexDetails {
		n += d.SizeInBytes
	}
	return n
}

// Good reports whether the snapshot is a complete backup: SUCCESS with no
// failed shard. PARTIAL is not good, whatever else it says.
func (s Snapshot) Good() bool {
	return s.State == StateSuccess && s.Shards.Failed == 0 && len(s.Failures) == 0
}

// FailureSummary names the failed shards and their reasons.
func (s Snapshot) FailureSummary() string {
	var parts []string
	for _, f := range s.Failures {
		parts = append(parts, fmt.Sprintf("%s[%s]: %s", f.Index, f.ShardID, f.Reason))
	}
	out := fmt.Sprintf("%d of %d shards failed", s.Shards.Failed, s.Shards.Total)
	if len(parts) > 0 {
		out += ": " + strings.Join(parts, "; ")
	}
	if s.Reason != "" {
		out += " (" + s.Reason + ")"
	}
	return out
}

// snapshotsBody is the answer of GET _snapshot/<repo>/<names>: ES 7.x before
// 7.16 (for several repositories) and 6.x wrap it in "responses".
type snapshotsBody struct {
	Snapshots []Snapshot `json:"snapshots"`
	Responses []struct {
		Repository string     `json:"repository"`
		Snapshots  []Snapshot `json:"snapshots"`
	} `json:"responses"`
}

// ParseSnapshots decodes GET _snapshot's answer in any of its shapes.
func ParseSnapshots(b []byte) ([]Snapshot, error) {
	var sb snapshotsBody
	if err := json.Unmarshal(b, &sb); err != nil {
		return nil, err
	}
	out := sb.Snapshots
	for _, r := range sb.Responses {
		for _, s := range r.Snapshots {
			if s.Repository == "" {
				s.Repository = r.Repository
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// GetSnapshot returns one snapshot, or nil if the repository has no such one.
func (c *Client) GetSnapshot(ctx context.Context, repo, name string) (*Snapshot, error) {
	var raw rawJSON
	err := c.do(ctx, http.MethodGet, "/_snapshot/"+seg(repo)+"/"+seg(name), nil, nil, &raw)
	if IsType(err, "snapshot_missing_exception") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ss, err := ParseSnapshots(raw)
	if err != nil {
		return nil, fmt.Errorf("GET /_snapshot/%s/%s: decoding the answer: %w", repo, name, err)
	}
	for i := range ss {
		if ss[i].Name == name {
			return &ss[i], nil
		}
	}
	return nil, nil
}

// ListSnapshots returns every snapshot in repo, with sizes when the server
// can give them (indexDetails).
func (c *Client) ListSnapshots(ctx context.Context, repo string, indexDetails bool) ([]Snapshot, error) {
	var q url.Values
	if indexDetails {
		q = url.Values{"index_details": {"true"}}
	}
	var raw rawJSON
	if err := c.do(ctx, http.MethodGet, "/_snapshot/"+seg(repo)+"/_all", q, nil, &raw); err != nil {
		return nil, err
	}
	ss, err := ParseSnapshots(raw)
	if err != nil {
		return nil, fmt.Errorf("GET /_snapshot/%s/_all: decoding the answer: %w", repo, err)
	}
	return ss, nil
}

// CreateRequest is the body of a snapshot creation.
type CreateRequest struct {
	Indices            string         `json:"indices,omitempty"`
	IgnoreUnavailable  bool           `json:"ignore_unavailable"`
	IncludeGlobalState bool           `json:"include_global_state"`
	Partial            bool           `json:"partial"`
	Metadata           map[string]any `json:"metadata,omitempty"`
}

// CreateSnapshot starts a snapshot and returns once the server accepted it
// (no wait_for_completion: long waits die in proxies and client timeouts).
func (c *Client) CreateSnapshot(ctx context.Context, repo, name string, req CreateRequest) error {
	return c.do(ctx, http.MethodPut, "/_snapshot/"+seg(repo)+"/"+seg(name), nil, req, nil)
}

// DeleteSnapshots deletes names in one request (comma-separated: the caller
// checks Version.MultiDelete before passing more than one).
func (c *Client) DeleteSnapshots(ctx context.Context, repo string, names []string) error {
	esc := make([]string, len(names))
	for i, n := range names {
		esc[i] = seg(n)
	}
	return c.do(ctx, http.MethodDelete, "/_snapshot/"+seg(repo)+"/"+strings.Join(esc, ","), nil, nil, nil)
}

// RestoreRequest is the body of a restore.
type RestoreRequest struct {
	Indices            string `json:"indices,omitempty"`
	IgnoreUnavailable  bool   `json:"ignore_unavailable"`
	IncludeGlobalState bool   `json:"include_global_state"`
	RenamePattern      string `json:"rename_pattern,omitempty"`
	RenameReplacement  string `json:"rename_replacement,omitempty"`
	IncludeAliases     bool   `json:"include_aliases"`
}

// RestoreResult is what a waited-for restore reports.
type RestoreResult struct {
	Accepted bool
	Indices  []string
	Shards   ShardCounts
}

// Restore starts restoring a snapshot; with wait it returns when the
// restore finished (the request then lasts as long as the restore: the
// caller's context bounds it, not the per-request timeout).
func (c *Client) Restore(ctx context.Context, repo, name string, req RestoreRequest, wait bool) (RestoreResult, error) {
	var body struct {
		Accepted bool `json:"accepted"`
		Snapshot *struct {
			Indices []string    `json:"indices"`
			Shards  ShardCounts `json:"shards"`
		} `json:"snapshot"`
	}
	path := "/_snapshot/" + seg(repo) + "/" + seg(name) + "/_restore"
	var err error
	if wait {
		long := *c
		if dl, ok := ctx.Deadline(); ok {
			long.timeout = time.Until(dl)
		}
		err = long.do(ctx, http.MethodPost, path, url.Values{"wait_for_completion": {"true"}}, req, &body)
	} else {
		err = c.do(ctx, http.MethodPost, path, nil, req, &body)
	}
	if err != nil {
		return RestoreResult{}, err
	}
	res := RestoreResult{Accepted: body.Accepted || body.Snapshot != nil}
	if body.Snapshot != nil {
		res.Indices, res.Shards = body.Snapshot.Indices, body.Snapshot.Shards
	}
	return res, nil
}

// SnapshotStatus is one running snapshot as GET _snapshot/_status shows it.
type SnapshotStatus struct {
	Name       string `json:"snapshot"`
	Repository string `json:"repository"`
	State      string `json:"state"`
	ShardStats struct {
		Initializing int `json:"initializing"`
		Started      int `json:"started"`
		Finalizing   int `json:"finalizing"`
		Done         int `json:"done"`
		Failed       int `json:"failed"`
		Total        int `json:"total"`
	} `json:"shards_stats"`
	Stats statusStats `json:"stats"`
}

// statusStats holds both shapes: ES 7.4+ and OpenSearch nest
// total/processed objects; earlier versions had flat counters.
type statusStats struct {
	Total struct {
		FileCount   int   `json:"file_count"`
		SizeInBytes int64 `json:"size_in_bytes"`
	} `json:"total"`
	Processed struct {
		FileCount   int   `json:"file_count"`
		SizeInBytes int64 `json:"size_in_bytes"`
	} `json:"processed"`
	StartTimeMillis      int64 `json:"start_time_in_millis"`
	TimeMillis           int64 `json:"time_in_millis"`
	TotalSizeInBytes     int64 `json:"total_size_in_bytes"`     // before 7.4
	ProcessedSizeInBytes int64 `json:"processed_size_in_bytes"` // before 7.4
}

// TotalBytes and DoneBytes tolerate both stats shapes.
func (s SnapshotStatus) TotalBytes() int64 {
	if s.Stats.Total.SizeInBytes > 0 {
		return s.Stats.Total.SizeInBytes
	}
	return s.Stats.TotalSizeInBytes
}

// DoneBytes is how much of TotalBytes is copied.
func (s SnapshotStatus) DoneBytes() int64 {
	if s.Stats.Processed.SizeInBytes > 0 {
		return s.Stats.Processed.SizeInBytes
	}
	return s.Stats.ProcessedSizeInBytes
}

// ParseStatus decodes GET _snapshot/_status.
func ParseStatus(b []byte) ([]SnapshotStatus, error) {
	var v struct {
		Snapshots []SnapshotStatus `json:"snapshots"`
	}
	err := json.Unmarshal(b, &v)
	return v.Snapshots, err
}

// Status returns the running snapshots (of repo, or of all repositories).
func (c *Client) Status(ctx context.Context, repo string) ([]SnapshotStatus, error) {
	path := "/_snapshot/_status"
	if repo != "" {
		path = "/_snapshot/" + seg(repo) + "/_status"
	}
	var raw rawJSON
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &raw); err != nil {
		return nil, err
	}
	st, err := ParseStatus(raw)
	if err != nil {
		return nil, fmt.Errorf("GET %s: decoding the answer: %w", path, err)
	}
	return st, nil
}
