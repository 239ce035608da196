package cli

import (
	"context"

	"cronbox/gof3r/s3"
)

// rm removes bucket/key, or one version of it with -v. A locked object is
// refused by S3; the error says until when (see oneLine).
func (j *job) rm(ctx context.Context, bucket, key string) error {
	return j.c.RemoveWithOptions(ctx, bucket, key, s3.RemoveOptions{VersionID: j.o.versionID})
}
