package backup

import (
	"context"
	"errors"
	"io"

	"cronbox/gof3r/s3"
)

// S3Store adapts the shared cronbox/gof3r/s3 client to Store.
type S3Store struct{ C *s3.Client }

func fromS3(o s3.Object) Object {
	ob := Object{Bucket: o.Bucket, Key: o.Key, Size: o.Size, SHA256: o.SHA256, LastModified: o.LastModified, Metadata: o.Metadata}
	if o.Checksum.IsSet() {
		ob.Checksum = o.Checksum.String()
	}
	return ob
}

func (s S3Store) Put(ctx context.Context, bucket, key string, r io.Reader, meta map[string]string) (Object, error) {
	o, err := s.C.Put(ctx, bucket, key, r, s3.PutOptions{Metadata: meta, ContentType: "application/x-etcd-snapshot", SHA256: true})
	return fromS3(o), err
}

func (s S3Store) Get(ctx context.Context, bucket, key string, w io.Writer) (Object, error) {
	o, err := s.C.Get(ctx, bucket, key, w)
	if errors.Is(err, s3.ErrChecksum) {
		err = errors.Join(ErrMismatch, err)
	}
	return fromS3(o), err
}

func (s S3Store) Stat(ctx context.Context, bucket, key string) (Object, error) {
	o, err := s.C.Stat(ctx, bucket, key)
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
