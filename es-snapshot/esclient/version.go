package esclient

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Distribution names.
const (
	Elasticsearch = "elasticsearch"
	OpenSearch    = "opensearch"
)

// Version is what GET / says about the server.
type Version struct {
	Distribution        string // Elasticsearch or OpenSearch
	Number              string // as reported, e.g. "8.15.0", "2.19.6"
	Major, Minor, Patch int
}

func (v Version) String() string { return v.Distribution + " " + v.Number }

// atLeast compares major.minor.
func (v Version) atLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// Supported reports whether the server is one of the tested families:
// Elasticsearch 7-9 and OpenSearch 1-3.
func (v Version) Supported() bool {
	if v.Distribution == OpenSearch {
		return v.Major >= 1 && v.Major <= 3
	}
	return v.Major >= 7 && v.Major <= 9
}

// MultiDelete reports whether one DELETE can remove several snapshots
// (Elasticsearch 7.8 added comma-separated names; OpenSearch forked after).
func (v Version) MultiDelete() bool {
	return v.Distribution == OpenSearch || v.atLeast(7, 8)
}

// IndexDetails reports whether GET _snapshot accepts index_details=true,
// which gives per-index sizes (Elasticsearch 7.13+; not OpenSearch).
func (v Version) IndexDetails() bool {
	return v.Distribution == Elasticsearch && v.atLeast(7, 13)
}

// SnapshotMetadata reports whether a snapshot may carry user metadata
// (Elasticsearch 7.3+, all OpenSearch).
func (v Version) SnapshotMetadata() bool {
	return v.Distribution == OpenSearch || v.atLeast(7, 3)
}

type infoBody struct {
	Version struct {
		Number       string `json:"number"`
		Distribution string `json:"distribution"`
	} `json:"version"`
	Tagline string `json:"tagline"`
}

// ParseInfo reads GET /'s answer. OpenSearch says distribution "opensearch"
// (even when it is set to report 7.10.2 for old clients); Elasticsearch
// says nothing there.
func ParseInfo(b []byte) (Version, error) {
	var ib infoBody
	if err := jsonUnmarshal(b, &ib); err != nil {
		return Version{}, err
	}
	v := Version{Number: ib.Version.Number, Distribution: Elasticsearch}
	if strings.EqualFold(ib.Version.Distribution, OpenSearch) || strings.Contains(ib.Tagline, "OpenSearch") {
		v.Distribution = OpenSearch
	}
	if v.Number == "" {
		return v, fmt.Errorf("no version.number in the answer")
	}
	core, _, _ := strings.Cut(v.Number, "-") // "8.0.0-SNAPSHOT", "7.0.0-rc1"
	parts := strings.Split(core, ".")
	nums := []*int{&v.Major, &v.Minor, &v.Patch}
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return v, fmt.Errorf("version %q: %w", v.Number, err)
		}
		*nums[i] = n
	}
	return v, nil
}

// Info asks the server what it is.
func (c *Client) Info(ctx context.Context) (Version, error) {
	var raw rawJSON
	if err := c.do(ctx, "GET", "/", nil, nil, &raw); err != nil {
		return Version{}, err
	}
	v, err := ParseInfo(raw)
	if err != nil {
		return v, fmt.Errorf("GET / on %s: %w", c.Host(), err)
	}
	return v, nil
}
