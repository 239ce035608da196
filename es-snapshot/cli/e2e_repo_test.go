package cli_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"cronbox/es-snapshot/esclient"
	"cronbox/testkit/opensearchtest"
)

// repo ensure registers once, leaves an equal registration alone (the
// server stores settings as strings: true comes back as "true"), and
// re-registers when the settings change.
func TestRepoEnsureRegistersOnlyWhenDifferent(t *testing.T) {
	eachNode(t, func(t *testing.T, n *opensearchtest.Node) {
		env := map[string]string{"ES_HOST_URL": n.URL, "ES_REPOSITORY": "ens", "ES_REPOSITORY_TYPE": "fs",
			"ES_FS_LOCATION": filepath.Join(n.Repo, "ens")}
		steps := []struct {
			settings string
			want     string
		}{
			{"", "not registered, registering"},
			{"", "registered as wanted"},
			{`{"compress":true,"chunk_size":"10mb"}`, "re-registering"},
			{`{"compress":true,"chunk_size":"10mb"}`, "registered as wanted"},
			{"", "re-registering"},
		}
		for i, s := range steps {
			env["ES_REPOSITORY_SETTINGS"] = s.settings
			r := tool(t, env, "repo", "ensure")
			if r.code != 0 || !strings.Contains(r.stderr, s.want) || !strings.Contains(r.stderr, "verified by 1 node") {
				t.Fatalf("step %d: want %q: %s", i, s.want, r)
			}
		}
		var got map[string]esclient.Repository
		mustJSON(t, n, http.MethodGet, "/_snapshot/ens", nil, &got)
		if got["ens"].Settings["compress"] != nil {
			t.Fatalf("the last ensure did not drop compress: %+v", got["ens"])
		}
	})
}
