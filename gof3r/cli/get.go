package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"cronbox/gof3r/s3"
)

// get downloads bucket/key to path (stdout when "").
func (j *job) get(ctx context.Context, bucket, key, path string) error {
	opts, err := j.getOptions()
	if err != nil {
		return err
	}
	if err := j.decode(&opts); err != nil {
		return err
	}
	p := j.newProgress("get")
	opts.Progress = p.update
	defer p.done()
	if path == "" {
		_, err := j.c.GetWithOptions(ctx, bucket, key, j.stdout, opts)
		return err
	}
	// Into a temporary file beside path, renamed over it only once the
	// checksum matched: a failed get never leaves a damaged file at path.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".gof3r-*")
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer os.Remove(tmp.Name())
	_, err = j.c.GetWithOptions(ctx, bucket, key, tmp, opts)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("get s3://%s/%s: write %s: %w", bucket, key, path, cerr)
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// getOptions reads the get flags: the version, the SSE-C key (over the
// environment's), and how to verify.
func (j *job) getOptions() (s3.GetOptions, error) {
	env, warning, err := s3.SSEFromEnv(j.getenv)
	if err != nil {
		return s3.GetOptions{}, usageError{err.Error()}
	}
	if warning != "" {
		j.log.Warn(warning)
	}
	sse, err := j.sse(env)
	if err != nil {
		return s3.GetOptions{}, err
	}
	return s3.GetOptions{
		VersionID:            j.o.versionID,
		SSE:                  sse,
		AllowMissingChecksum: j.o.noMD5 || j.o.allowUnverified,
		MD5Sidecar:           j.o.md5,
	}, nil
}
