package backup

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Kind is where a backup goes to or comes from.
type Kind int

const (
	Stdio Kind = iota // "-": stdout for save, stdin for verify/restore
	File
	S3
)

// Location is a parsed destination or source argument.
type Location struct {
	Kind        Kind
	Path        string // File
	Bucket, Key string // S3
}

func (l Location) String() string {
	switch l.Kind {
	case Stdio:
		return "-"
	case S3:
		return "s3://" + l.Bucket + "/" + l.Key
	}
	return l.Path
}

// ParseLocation reads "-", a path, or "s3://bucket/key". An S3 URL whose
// key is empty or ends in "/" is a prefix: with forSave, the key becomes
// prefix + DefaultName(now); otherwise it is an error (a source names one object).
func ParseLocation(arg string, forSave bool, now time.Time) (Location, error) {
	switch {
	case arg == "":
		return Location{}, fmt.Errorf("empty location: give -, a path or s3://bucket/key")
	case arg == "-":
		return Location{Kind: Stdio}, nil
	case strings.HasPrefix(arg, "s3://"):
		rest := strings.TrimPrefix(arg, "s3://")
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return Location{}, fmt.Errorf("%s: no bucket", arg)
		}
		if key == "" || strings.HasSuffix(key, "/") {
			if !forSave {
				return Location{}, fmt.Errorf("%s: names a prefix, not a backup object", arg)
			}
			key += DefaultName(now)
		}
		return Location{Kind: S3, Bucket: bucket, Key: key}, nil
	case strings.Contains(arg, "://"):
		return Location{}, fmt.Errorf("%s: only s3:// URLs are supported", arg)
	}
	return Location{Kind: File, Path: arg}, nil
}

// timeLayout sorts lexically in time order (UTC, fixed width).
const timeLayout = "20060102T150405.000Z"

// DefaultName is the object name of a backup taken at t, under its prefix.
func DefaultName(t time.Time) string {
	return "etcd-" + t.UTC().Format(timeLayout) + ".db"
}

// nameRE matches DefaultName and the shorter name the image's job script
// gives its backups (20261127T030405Z.db).
var nameRE = regexp.MustCompile(`^(?:etcd-)?(\d{8}T\d{6})(\.\d{1,9})?Z\.db$`)

// ParseName returns the time a backup's name (relative to its prefix)
// says, and whether name is a backup's name at all.
func ParseName(name string) (time.Time, bool) {
	m := nameRE.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T150405.999999999Z", m[1]+m[2]+"Z")
	return t, err == nil
}

// Object is a stored backup as the S3 store reports it.
type Object struct {
	Bucket, Key  string
	Size         int64
	SHA256       string // hex, of the whole object, recorded while it was written ("" if none)
	Checksum     string // the checksum S3 stores with the object and checks on get ("" if none)
	LastModified time.Time
	Metadata     map[string]string
}

// Store is the S3 seam: the shared cronbox/gof3r/s3 client behind an
// adapter (s3store.go), or anything else in a test.
type Store interface {
	// Put streams r to bucket/key; if r fails (a non-EOF error) nothing appears under key.
	Put(ctx context.Context, bucket, key string, r io.Reader, meta map[string]string) (Object, error)
	// Get streams the object to w and fails if its recorded SHA-256 does not match.
	Get(ctx context.Context, bucket, key string, w io.Writer) (Object, error)
	Stat(ctx context.Context, bucket, key string) (Object, error)
	List(ctx context.Context, bucket, prefix string) ([]Object, error)
	Remove(ctx context.Context, bucket, key string) error
}

// Metadata keys recorded with a backup (lower-case, without x-amz-meta-).
const (
	MetaFormat   = "cronbox-format" // "etcd-snapshot-v1": a save that passed the trailer check
	MetaRevision = "etcd-revision"
	MetaMemberID = "etcd-member-id"
	MetaCluster  = "etcd-cluster-id"
	MetaVersion  = "etcd-version"
	MetaEndpoint = "etcd-endpoint"
	MetaCreated  = "created"
	FormatV1     = "etcd-snapshot-v1"
)
