package opensearchtest

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// Each flavour starts, reports its distribution from GET /, takes documents
// and stops; a stopped node no longer answers.
func TestNodeStartsIndexesAndStops(t *testing.T) {
	for _, f := range Flavors() {
		t.Run(string(f), func(t *testing.T) {
			n := New(t, Options{Flavor: f})
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
			want := f.Version()
			if root.Version.Number != want {
				t.Fatalf("version %q, want %q", root.Version.Number, want)
			}
			if got := root.Version.Distribution == "opensearch"; got != (f == OpenSearch) {
				t.Fatalf("distribution %q for flavor %s", root.Version.Distribution, f)
			}
			if err := n.IndexDocs(ctx, "probe", 25); err != nil {
				t.Fatal(err)
			}
			if c, err := n.Count(ctx, "probe"); err != nil || c != 25 {
				t.Fatalf("count = %d, %v; want 25", c, err)
			}
			n.Stop()
			if _, _, err := n.Do(ctx, http.MethodGet, "/", nil); err == nil {
				t.Fatal("the stopped node still answers")
			}
		})
	}
}
