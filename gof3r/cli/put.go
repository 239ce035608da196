package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"cronbox/gof3r/s3"
)

// put uploads path (stdin when "") to bucket/key.
func (j *job) put(ctx context.Context, bucket, key, path string) error {
	opts, err := j.putOptions(time.Now())
	if err != nil {
		return err
	}
	if err := j.encode(&opts); err != nil {
		return err
	}
	in := j.stdin
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
		}
		defer f.Close()
		in = f
	}
	p := j.newProgress("put")
	opts.Progress = p.update
	start := time.Now()
	obj, err := j.c.Put(ctx, bucket, key, in, opts)
	p.done()
	if err != nil {
		return err
	}
	j.log.Debug("put done", "bucket", bucket, "key", key, "size", obj.Size, "checksum", obj.Checksum.String(),
		"version_id", obj.VersionID, "lock", obj.Lock.String(), "elapsed", time.Since(start))
	return nil
}

// putOptions reads the put flags over their environment variables
// (s3.PutOptionsFromEnv): headers, ACL, SSE, object lock, the .md5 sidecar.
func (j *job) putOptions(now time.Time) (s3.PutOptions, error) {
	o := j.o
	opts, warning, err := s3.PutOptionsFromEnv(j.getenv, now)
	if err != nil {
		return opts, usageError{err.Error()}
	}
	if warning != "" {
		j.log.Warn(warning)
	}
	if opts.SSE, err = j.sse(opts.SSE); err != nil {
		return opts, err
	}
	if o.set["acl"] {
		opts.ACL = o.acl
	}
	switch {
	case o.set["object-lock-mode"] && o.lockMode != "" && !o.set["object-lock-retain"] && opts.Lock.Mode == "":
		return opts, usagef("--object-lock-mode %s needs --object-lock-retain (how long)", o.lockMode)
	case o.set["object-lock-retain"] && !o.set["object-lock-mode"] && opts.Lock.Mode == "":
		return opts, usagef("--object-lock-retain needs --object-lock-mode GOVERNANCE or COMPLIANCE")
	case o.set["object-lock-mode"] || o.set["object-lock-retain"]:
		mode, retain := opts.Lock.Mode, opts.Lock.Until.Sub(now)
		if o.set["object-lock-mode"] {
			mode = o.lockMode
		}
		if o.set["object-lock-retain"] {
			retain = o.lockRetain
		}
		opts.Lock = s3.LockFor(mode, retain, now)
	}
	opts.MD5Sidecar = o.md5
	opts.Headers = map[string]string{}
	for _, h := range o.headers {
		name, value, _ := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !s3.AllowedHeader(name) {
			return opts, usagef("-m %q: gof3r cannot store header %s with an object", h, name)
		}
		if strings.EqualFold(name, "x-amz-meta-sha256") {
			return opts, usagef("-m %q: x-amz-meta-sha256 is where gof3r records the checksum", h)
		}
		if strings.HasPrefix(strings.ToLower(name), "x-amz-server-side-encryption") && opts.SSE.Mode != "" {
			return opts, usagef("-m %q and --sse %s both set the encryption: use one", h, opts.SSE.Mode)
		}
		if strings.EqualFold(name, "x-amz-acl") && opts.ACL != "" {
			return opts, usagef("-m %q and --acl %s both set the ACL: use one", h, opts.ACL)
		}
		opts.Headers[name] = value
	}
	return opts, nil
}

// sse reads --sse, --sse-kms-key-id and --sse-c-key-file over env (the
// environment's SSE).
func (j *job) sse(env s3.SSE) (s3.SSE, error) {
	o := j.o
	if !o.set["sse"] && !o.set["sse-kms-key-id"] && !o.set["sse-c-key-file"] {
		return env, nil
	}
	mode, kms, key := env.Mode, env.KMSKeyID, env.CustomerKey
	if o.set["sse"] {
		mode = o.sse
		if mode != s3.SSEKMS {
			kms = ""
		}
		if mode != s3.SSEC {
			key = nil
		}
	}
	if o.set["sse-kms-key-id"] {
		kms = o.sseKMSKeyID
	}
	if o.set["sse-c-key-file"] {
		k, warning, err := s3.ReadCustomerKeyFile(o.sseCKeyFile)
		if err != nil {
			return s3.SSE{}, usagef("--sse-c-key-file: %v", err)
		}
		if warning != "" {
			j.log.Warn(warning)
		}
		key = k
	}
	sse, err := s3.ParseSSE(mode, kms, key)
	if err != nil {
		return s3.SSE{}, usagef("--sse %s: %v", mode, err)
	}
	return sse, nil
}
