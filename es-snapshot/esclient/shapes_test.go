package esclient

import (
	"net/http"
	"strings"
	"testing"
)

// GET / as each family documents it. 7.10.2 and 2.19.6 are also what the
// real test nodes answer (see the e2e package); the others are the
// documented examples, trimmed.
func TestParseInfoAcrossVersions(t *testing.T) {
	cases := []struct {
		name, body   string
		distribution string
		major, minor int
		multiDelete  bool
		indexDetails bool
		supported    bool
	}{
		{"elasticsearch 6.8", `{"name":"n","version":{"number":"6.8.23","build_flavor":"default","lucene_version":"7.7.3"},"tagline":"You Know, for Search"}`,
			Elasticsearch, 6, 8, false, false, false},
		{"elasticsearch 7.7", `{"version":{"number":"7.7.1","build_flavor":"default"},"tagline":"You Know, for Search"}`,
			Elasticsearch, 7, 7, false, false, true},
		{"elasticsearch 7.10.2", `{"name":"cronbox-test","version":{"number":"7.10.2","build_flavor":"unknown","build_type":"unknown","lucene_version":"8.7.0"},"tagline":"You Know, for Search"}`,
			Elasticsearch, 7, 10, true, false, true},
		{"elasticsearch 7.17", `{"version":{"number":"7.17.25","build_flavor":"default"},"tagline":"You Know, for Search"}`,
			Elasticsearch, 7, 17, true, true, true},
		{"elasticsearch 8.13", `{"name":"instance-0000000000","cluster_name":"my_test_cluster","version":{"number":"8.13.0","build_flavor":"default","build_type":"docker","lucene_version":"9.10.0","minimum_wire_compatibility_version":"7.17.0"},"tagline":"You Know, for Search"}`,
			Elasticsearch, 8, 13, true, true, true},
		{"elasticsearch 8 snapshot build", `{"version":{"number":"8.0.0-SNAPSHOT"},"tagline":"You Know, for Search"}`,
			Elasticsearch, 8, 0, true, true, true},
		{"elasticsearch 9.0", `{"version":{"number":"9.0.0","build_flavor":"default","lucene_version":"10.1.0","minimum_wire_compatibility_version":"8.18.0"},"tagline":"You Know, for Search"}`,
			Elasticsearch, 9, 0, true, true, true},
		{"opensearch 1.3", `{"name":"n","version":{"distribution":"opensearch","number":"1.3.20","lucene_version":"8.10.1"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`,
			OpenSearch, 1, 3, true, false, true},
		{"opensearch 2.19.6", `{"name":"cronbox-test","version":{"distribution":"opensearch","number":"2.19.6","build_type":"unknown","lucene_version":"9.12.3"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`,
			OpenSearch, 2, 19, true, false, true},
		{"opensearch 3.0", `{"version":{"distribution":"opensearch","number":"3.0.0","lucene_version":"10.1.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`,
			OpenSearch, 3, 0, true, false, true},
		{"opensearch in compatibility mode", `{"version":{"distribution":"opensearch","number":"7.10.2"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`,
			OpenSearch, 7, 10, true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := ParseInfo([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if v.Distribution != c.distribution || v.Major != c.major || v.Minor != c.minor {
				t.Fatalf("got %+v, want %s %d.%d", v, c.distribution, c.major, c.minor)
			}
			if v.MultiDelete() != c.multiDelete || v.IndexDetails() != c.indexDetails || v.Supported() != c.supported {
				t.Fatalf("%s: multiDelete %v indexDetails %v supported %v; want %v %v %v", v,
					v.MultiDelete(), v.IndexDetails(), v.Supported(), c.multiDelete, c.indexDetails, c.supported)
			}
		})
	}
	if _, err := ParseInfo([]byte(`{"ok":true}`)); err == nil {
		t.Fatal("an answer without version.number parsed")
	}
}

func TestParseSnapshotsAcrossVersions(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		want     []string // name:state:repository
		size     int64    // of the first snapshot, -1 unknown
		good     bool     // of the first snapshot
		failures string   // FailureSummary of the first snapshot contains
	}{
		{
			// Elasticsearch 6.x and 7.x before 7.16 for several repositories.
			name: "responses wrapper (es 6/7)",
			body: `{"responses":[{"repository":"r1","snapshots":[{"snapshot":"a","uuid":"u","version_id":6082399,"version":"6.8.23","indices":["i"],"include_global_state":true,"state":"SUCCESS","start_time":"2020-01-01T00:00:00.000Z","start_time_in_millis":1577836800000,"end_time_in_millis":1577836801000,"duration_in_millis":1000,"failures":[],"shards":{"total":1,"failed":0,"successful":1}}]},{"repository":"r2","snapshots":[{"snapshot":"b","state":"IN_PROGRESS","shards":{"total":0,"failed":0,"successful":0}}]}]}`,
			want: []string{"a:SUCCESS:r1", "b:IN_PROGRESS:r2"}, size: -1, good: true,
		},
		{
			name: "opensearch 2.19.6 partial (from the real node)",
			body: `{"snapshots":[{"snapshot":"p1","uuid":"T7mx","version_id":136408427,"version":"2.19.6","remote_store_index_shallow_copy":false,"indices":["red","a"],"data_streams":[],"include_global_state":true,"state":"PARTIAL","start_time":"2026-11-27T03:04:53.151Z","start_time_in_millis":1795748693151,"end_time":"2026-11-27T03:04:53.351Z","end_time_in_millis":1795748693351,"duration_in_millis":200,"failures":[{"index":"red","index_uuid":"red","shard_id":0,"reason":"primary shard is not allocated","status":"INTERNAL_SERVER_ERROR"}],"shards":{"total":2,"failed":1,"successful":1}}]}`,
			want: []string{"p1:PARTIAL:"}, size: -1, good: false, failures: "1 of 2 shards failed: red[0]: primary shard is not allocated",
		},
		{
			// The get snapshot API's documented example (8.x), with index_details.
			name: "elasticsearch 8 with total/remaining and index_details",
			body: `{"snapshots":[{"snapshot":"snapshot_2","uuid":"vdRctLCxSketdKb54xw67g","repository":"my_repository","version_id":8130099,"version":"8.13.0","indices":["index1","index2"],"index_details":{"index1":{"shard_count":1,"size_in_bytes":1000,"max_segments_per_shard":1},"index2":{"shard_count":1,"size_in_bytes":24,"max_segments_per_shard":1}},"data_streams":[],"feature_states":[],"include_global_state":true,"state":"SUCCESS","start_time":"2020-07-06T21:55:18.129Z","start_time_in_millis":1593093628850,"end_time":"2020-07-06T21:55:18.129Z","end_time_in_millis":1593094752018,"duration_in_millis":0,"failures":[],"shards":{"total":2,"failed":0,"successful":2}}],"total":1,"remaining":0}`,
			want: []string{"snapshot_2:SUCCESS:my_repository"}, size: 1024, good: true,
		},
		{
			// Elasticsearch 9 adds nothing the decoder needs; unknown keys pass.
			name: "elasticsearch 9 failed snapshot with a reason",
			body: `{"snapshots":[{"snapshot":"s","uuid":"x","repository":"r","version_id":9000099,"version":"9.0.0","indices":["i"],"data_streams":[],"feature_states":[],"include_global_state":false,"state":"FAILED","reason":"Indices don't have primary shards [i]","start_time_in_millis":1,"end_time_in_millis":2,"duration_in_millis":1,"failures":[{"index":"i","index_uuid":"i","shard_id":0,"reason":"primary shard is not allocated","node_id":null,"status":"INTERNAL_SERVER_ERROR"}],"shards":{"total":1,"failed":1,"successful":0}}],"total":1,"remaining":0}`,
			want: []string{"s:FAILED:r"}, size: -1, good: false, failures: "(Indices don't have primary shards [i])",
		},
		{
			// SUCCESS with a failed shard must not count as good.
			name: "success with failed shards",
			body: `{"snapshots":[{"snapshot":"s","state":"SUCCESS","failures":[],"shards":{"total":3,"failed":1,"successful":2}}]}`,
			want: []string{"s:SUCCESS:"}, size: -1, good: false, failures: "1 of 3 shards failed",
		},
		{
			name: "opensearch 1.x incompatible",
			body: `{"snapshots":[{"snapshot":"old","uuid":"u","version_id":5061699,"version":"5.6.16","indices":[],"include_global_state":true,"state":"INCOMPATIBLE","start_time_in_millis":0,"end_time_in_millis":0,"duration_in_millis":0,"failures":[],"shards":{"total":0,"failed":0,"successful":0}}]}`,
			want: []string{"old:INCOMPATIBLE:"}, size: -1, good: false,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ss, err := ParseSnapshots([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range ss {
				got = append(got, s.Name+":"+s.State+":"+s.Repository)
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			if ss[0].Size() != c.size || ss[0].Good() != c.good {
				t.Fatalf("size %d good %v; want %d %v", ss[0].Size(), ss[0].Good(), c.size, c.good)
			}
			if c.failures != "" && !strings.Contains(ss[0].FailureSummary(), c.failures) {
				t.Fatalf("FailureSummary %q lacks %q", ss[0].FailureSummary(), c.failures)
			}
		})
	}
}

func TestParseStatusBothStatsShapes(t *testing.T) {
	// 7.4+ and OpenSearch nest total/processed (this one is the real 2.19.6
	// node's); before 7.4 the counters were flat.
	nested := `{"snapshots":[{"snapshot":"s1","repository":"slow","uuid":"n7","state":"STARTED","include_global_state":true,"shards_stats":{"initializing":0,"started":1,"finalizing":0,"done":0,"failed":0,"total":1},"stats":{"incremental":{"file_count":4,"size_in_bytes":3458},"processed":{"file_count":1,"size_in_bytes":1000},"total":{"file_count":4,"size_in_bytes":3458},"start_time_in_millis":1795748649249,"time_in_millis":200}}]}`
	flat := `{"snapshots":[{"snapshot":"s1","repository":"r","state":"STARTED","shards_stats":{"initializing":0,"started":1,"finalizing":0,"done":0,"failed":0,"total":1},"stats":{"number_of_files":4,"processed_files":1,"total_size_in_bytes":3458,"processed_size_in_bytes":1000,"start_time_in_millis":1,"time_in_millis":2}}]}`
	for name, body := range map[string]string{"nested": nested, "flat": flat} {
		st, err := ParseStatus([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 1 || st[0].TotalBytes() != 3458 || st[0].DoneBytes() != 1000 || st[0].ShardStats.Total != 1 {
			t.Fatalf("%s: got %+v", name, st)
		}
	}
}

func TestDecodeErrorShapes(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		typ         string
		contains    []string
		concurrency bool
	}{
		{"elasticsearch security 401", 401,
			`{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate user [elastic] for REST request [/]","header":{"WWW-Authenticate":["Basic realm=\"security\" charset=\"UTF-8\"","ApiKey"]}}],"type":"security_exception","reason":"unable to authenticate user [elastic] for REST request [/]","header":{"WWW-Authenticate":["ApiKey"]}},"status":401}`,
			"security_exception", []string{"GET /: HTTP 401 security_exception: unable to authenticate user [elastic]", "refused the credentials"}, false},
		{"opensearch security plugin 401 (plain text)", 401, "Unauthorized", "",
			[]string{"GET /: HTTP 401: Unauthorized", "refused the credentials"}, false},
		{"verification with caused_by chain (real node)", 500,
			`{"error":{"root_cause":[{"type":"exception","reason":"failed to create blob container"}],"type":"repository_verification_exception","reason":"[ro] path  is not accessible on cluster-manager node","caused_by":{"type":"exception","reason":"failed to create blob container","caused_by":{"type":"file_system_exception","reason":"/r/ro/tests-1B: Operation not permitted"}}},"status":500}`,
			"repository_verification_exception", []string{"not accessible", "caused by file_system_exception: /r/ro/tests-1B: Operation not permitted"}, false},
		{"concurrent snapshot limit (real node)", 503,
			`{"error":{"root_cause":[{"type":"concurrent_snapshot_execution_exception","reason":"[slow:s2] Cannot start another operation, already running [1] operations and the current limit for concurrent snapshot operations is set to [1]"}],"type":"concurrent_snapshot_execution_exception","reason":"[slow:s2] Cannot start another operation, already running [1] operations"},"status":503}`,
			"concurrent_snapshot_execution_exception", []string{"HTTP 503"}, true},
		{"es 6 a snapshot is already running", 503,
			`{"error":{"root_cause":[{"type":"concurrent_snapshot_execution_exception","reason":"[r:s] a snapshot is already running"}],"type":"concurrent_snapshot_execution_exception","reason":"[r:s] a snapshot is already running"},"status":503}`,
			"concurrent_snapshot_execution_exception", []string{"already running"}, true},
		{"es 7 concurrent repository modification", 500,
			`{"error":{"type":"repository_exception","reason":"[r] concurrent modification of the index-N file, expected current generation [3], actual current generation [4]"},"status":500}`,
			"repository_exception", []string{"concurrent modification"}, true},
		{"deleting a running snapshot (es 6)", 400,
			`{"error":{"type":"snapshot_in_progress_exception","reason":"[r:s] cannot delete snapshot while it is being snapshotted"},"status":400}`,
			"snapshot_in_progress_exception", nil, true},
		{"a string error (very old servers, proxies)", 400, `{"error":"Content-Type header [] is not supported","status":406}`,
			"", []string{"Content-Type header"}, false},
		{"an HTML proxy page", 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "",
			[]string{"502 Bad Gateway"}, false},
		{"name taken is not a concurrency error", 400,
			`{"error":{"type":"invalid_snapshot_name_exception","reason":"[r:s] Invalid snapshot name [s], snapshot with the same name already exists"},"status":400}`,
			"invalid_snapshot_name_exception", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := decodeError("GET /", c.status, []byte(c.body))
			if e.Type != c.typ {
				t.Fatalf("type %q, want %q", e.Type, c.typ)
			}
			for _, s := range c.contains {
				if !strings.Contains(e.Error(), s) {
					t.Fatalf("%q lacks %q", e.Error(), s)
				}
			}
			if IsConcurrency(e) != c.concurrency {
				t.Fatalf("IsConcurrency = %v, want %v", !c.concurrency, c.concurrency)
			}
			if IsStatus(e, c.status) != true || IsStatus(e, http.StatusTeapot) {
				t.Fatal("IsStatus")
			}
		})
	}
}
