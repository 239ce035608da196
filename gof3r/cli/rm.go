package cli

import (
	"context"
	"time"

	"cronbox/clikit"
	"cronbox/gof3r/s3"
)

// runRm is `gof3r rm s3://BUCKET/KEY` (or -b BUCKET -k KEY).
func runRm(ctx context.Context, j *job, args []string) error {
	bucket, key := j.o.bucket, j.o.key
	switch {
	case len(args) == 1:
		var err error
		if bucket, key, err = s3.ParseURL(args[0]); err != nil {
			return clikit.Usage(err)
		}
	case len(args) > 1:
		return usagef("rm takes one s3://bucket/key URL")
	default:
		if err := needBucketKey("rm", j.o, nil); err != nil {
			return err
		}
	}
	return j.rm(ctx, bucket, key)
}

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
