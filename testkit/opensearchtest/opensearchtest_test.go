package opensearchtest

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// The default node (OpenSearch 2.19.6, what the image tests use) starts,
// reports its distribution from GET /, takes documents and stops; a stopped
// node no longer answers. The other flavours start in es-snapshot's suite,
// which runs against each.
func TestNodeStartsIndexesAndStops(t *testing.T) {
	n := New(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var root struct {
		Version struct {
			Distribution string `json:"distribution"`
			Number       string `json:"number"`
		} `json:"version"`
	}
	if err := n.JSON(ctx, http.MethodGet, "/", nil, &root); err != nil {
		t.Fatal(err)
	}
	if root.Version.Number != OpenSearch.Version() || root.Version.Distribution != "opensearch" {
		t.Fatalf("GET / says %+v, want opensearch %s", root.Version, OpenSearch.Version())
	}
	if err := n.IndexDocs(ctx, "probe", 25); err != nil {
		t.Fatal(err)
	}
	if c, err := n.Count(ctx, "probe"); err != nil || c != 25 {
		t.Fatalf("count = %d, %v; want 25", c, err)
	}
	for _, dir := range []string{n.Home, n.Data, n.Repo} {
		if _, err := os.Stat(dir); err != nil {
			t.Fatal(err)
		}
	}
	n.Stop()
	if _, _, err := n.Do(ctx, http.MethodGet, "/", nil); err == nil {
		t.Fatal("the stopped node still answers")
	}
	if _, err := os.Stat(n.Home); !os.IsNotExist(err) {
		t.Fatalf("the node's temp dir is left behind: %v", err)
	}
}

func TestUnknownFlavorIsRefused(t *testing.T) {
	if _, err := Start(Options{Flavor: "solr"}); err == nil || !strings.Contains(err.Error(), "unknown flavor") {
		t.Fatalf("err = %v", err)
	}
}

func TestJavaForOpenSearch3IsNewEnough(t *testing.T) {
	java, err := javaBinary("", OpenSearch3.minJava())
	if err != nil {
		t.Fatal(err)
	}
	if v := javaMajor(java); v < 21 {
		t.Fatalf("%s is Java %d", java, v)
	}
	if _, err := javaBinary(t.TempDir(), 17); err == nil {
		t.Fatal("an empty JavaHome was accepted")
	}
}
