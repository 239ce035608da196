package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cronbox/jobresult"
	"cronbox/testkit/opensearchtest"
)

// Run by go-cron (GOCRON_RESULT_FILE set), the es-backup job reports the
// snapshot it took: repository, name, state, shards, indices.
func TestCreateReportsToGoCron(t *testing.T) {
	eachNode(t, func(t *testing.T, n *opensearchtest.Node) {
		for _, idx := range []string{"report-a", "report-b"} {
			if err := n.IndexDocs(ctx(t), idx, 20); err != nil {
				t.Fatal(err)
			}
		}
		file := filepath.Join(t.TempDir(), "result.json")
		if err := os.WriteFile(file, nil, 0o600); err != nil { // as go-cron leaves it
			t.Fatal(err)
		}
		env := map[string]string{
			"ES_HOST_URL": n.URL, "ES_REPOSITORY": "report", "ES_REPOSITORY_TYPE": "fs",
			"ES_FS_LOCATION": filepath.Join(n.Repo, "report"), "ES_SNAPSHOTNAME": "report", "ES_INDICES": "report-*",
			jobresult.Env: file,
		}
		if r := script(t, env); r.code != 0 {
			t.Fatalf("es-backup: %s", r)
		}
		snaps := snapshots(t, n, "report")
		_, got, err := jobresult.Read(file, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := snaps[got.Snapshot]
		if !ok || len(snaps) != 1 || got.Kind != "es-snapshot" || got.Repository != "report" || got.Location != "" {
			t.Fatalf("reported %+v; snapshots %v", got, names(snaps))
		}
		x := got.Search
		if x == nil || x.State != "SUCCESS" || x.UUID != s.UUID || x.Shards.Total != s.Shards.Total || x.Shards.Successful != s.Shards.Total ||
			x.Shards.Failed != 0 || x.IndexCount != 2 || strings.Join(slices.Sorted(slices.Values(x.Indices)), ",") != "report-a,report-b" ||
			!strings.Contains(strings.ToLower(x.Version), string(n.Flavor)[:4]) || got.Seconds < 0 {
			t.Errorf("reported %+v search %+v; snapshot %+v", got, x, s)
		}
	})
}
