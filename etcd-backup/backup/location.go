package backup

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"cronbox/gof3r/s3"
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
// key is empty or ends in "/" is a prefix: for a save (name is the new
// backup's name, see BackupName) the key becomes prefix + name; for a
// source (name "") it is an error, since a source names one object.
func ParseLocation(arg string, name string) (Location, error) {
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
			if name == "" {
				return Location{}, fmt.Errorf("%s: names a prefix, not a backup object", arg)
			}
			if err := CheckPrefix(key); err != nil {
				return Location{}, fmt.Errorf("%s: %w", arg, err)
			}
			key += name
		}
		return Location{Kind: S3, Bucket: bucket, Key: key}, nil
	case strings.Contains(arg, "://"):
		return Location{}, fmt.Errorf("%s: only s3:// URLs are supported", arg)
	}
	return Location{Kind: File, Path: arg}, nil
}

// Object is a stored backup as the S3 store reports it.
type Object struct {
	Bucket, Key  string
	Size         int64
	SHA256       string // hex, of the whole object, recorded while it was written ("" if none)
	Checksum     string // the checksum S3 stores with the object and checks on get ("" if none)
	LastModified time.Time
	ContentType  string
	Metadata     map[string]string
	// S3 object lock, as the object's HEAD reports it.
	LockMode    string    // GOVERNANCE or COMPLIANCE ("" when none)
	RetainUntil time.Time // zero when none
	LegalHold   bool
}

// Store is the S3 seam: the shared cronbox/gof3r/s3 client behind an
// adapter (s3store.go), or anything else in a test.
type Store interface {
	// Put streams r to bucket/key; if r fails (a non-EOF error) nothing appears under key.
	Put(ctx context.Context, bucket, key string, r io.Reader, o PutOptions) (Object, error)
	// Get streams the object to w and fails if its recorded SHA-256 does not match.
	Get(ctx context.Context, bucket, key string, w io.Writer) (Object, error)
	Stat(ctx context.Context, bucket, key string) (Object, error)
	List(ctx context.Context, bucket, prefix string) ([]Object, error)
	Remove(ctx context.Context, bucket, key string) error
}

// PutOptions is what is stored with an object besides its bytes.
type PutOptions struct {
	Metadata    map[string]string
	ContentType string
	Lock        s3.Lock // S3 Object Lock retention (none: zero)
	// HashedByCaller: the caller computes the stored bytes' SHA-256 itself
	// (a snapshot stored as it is: the trailer check's pass hashes the
	// whole stream), so the store need not hash them again on the way.
	HashedByCaller bool
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
