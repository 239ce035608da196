package cli

import (
	"context"
	"time"

	"cronbox/gof3r/s3"
)

// rm removes bucket/key, or one version of it with -v. S3 refuses to
// remove a locked version; the error says until when (see oneLine). In a
// versioned bucket (every bucket with object lock on AWS) a remove without
// a version only adds a delete marker, which S3 allows: the locked version
// stays, and rm says so.
func (j *job) rm(ctx context.Context, bucket, key string) error {
	var before s3.Object
	if j.o.versionID == "" {
		before, _ = j.c.Stat(ctx, bucket, key)
	}
	if err := j.c.RemoveWithOptions(ctx, bucket, key, s3.RemoveOptions{VersionID: j.o.versionID}); err != nil {
		return err
	}
	if before.Lock.Active(time.Now()) {
		if _, err := j.c.Stat(ctx, bucket, key); err != nil {
			j.log.Warn("the object was locked: S3 hid it behind a delete marker and keeps its version until the lock ends (rm -v VERSION removes a version once it may)",
				"object", "s3://"+bucket+"/"+key, "version_id", before.VersionID, "lock", before.Lock.String())
		}
	}
	return nil
}
