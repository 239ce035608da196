package backup

import (
	"context"
	"errors"
	"io"

	"cronbox/gof3r/s3"
)

// S3Store adapts the shared cronbox/gof3r/s3 client to Store. SSE is the
// server-side encryption of what it writes, and, for SSE-C, the key every
// read must send again.
type S3Store struct {
	C   *s3.Client
	SSE s3.SSE
}

func fromS3(o s3.Object) Object {
	ob := Object{Bucket: o.Bucket, Key: o.Key, Size: o.Size, SHA256: o.SHA256, LastModified: o.LastModified, Metadata: o.Metadata,
		LockMode: o.Lock.Mode, RetainUntil: o.Lock.Until, LegalHold: o.Lock.LegalHold, ContentType: o.ContentType}
	if o.Checksum.IsSet() {
		ob.Checksum = o.Checksum.String()
	}
	return ob
}

func (s S3Store) Put(ctx context.Context, bucket, key string, r io.Reader, po PutOptions) (Object, error) {
	o, err := s.C.Put(ctx, bucket, key, r, s3.PutOptions{Metadata: po.Metadata, ContentType: po.ContentType, SHA256: !po.HashedByCaller, Lock: po.Lock, SSE: s.SSE})
	return fromS3(o), err
}

func (s S3Store) Get(ctx context.Context, bucket, key string, w io.Writer) (Object, error) {
	o, err := s.C.GetWithOptions(ctx, bucket, key, w, s3.GetOptions{SSE: s.SSE})
	if errors.Is(err, s3.ErrChecksum) {
		err = errors.Join(ErrMismatch, err)
	}
	return fromS3(o), err
}

func (s S3Store) Stat(ctx context.Context, bucket, key string) (Object, error) {
	o, err := s.C.StatWithOptions(ctx, bucket, key, s3.StatOptions{SSE: s.SSE})
	return fromS3(o), err
}

func (s S3Store) List(ctx context.Context, bucket, prefix string) ([]Object, error) {
	os, err := s.C.List(ctx, bucket, prefix)
	out := make([]Object, len(os))
	for i, o := range os {
		out[i] = fromS3(o)
	}
	return out, err
}

func (s S3Store) Remove(ctx context.Context, bucket, key string) error {
	return s.C.Remove(ctx, bucket, key)
}

// CheckObjectLock says, before anything is written, whether bucket can
// keep objects locked.
func (s S3Store) CheckObjectLock(ctx context.Context, bucket string) error {
	return s.C.CheckObjectLock(ctx, bucket)
}
