// Package cli is the gof3r command line: it parses s3gof3r's flags and
// calls cronbox/gof3r/s3 to do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"cronbox/gof3r/s3"
)

// Version is set at build time with -ldflags "-X cronbox/gof3r/cli.Version=...".
var Version = "dev"

const usage = `gof3r streams objects to and from S3 and S3-compatible servers, with
bounded memory and an end-to-end SHA-256 check.

Usage:
  gof3r put -b BUCKET -k KEY [-p FILE] [-m 'Header: value']...   upload stdin or FILE
  gof3r get -b BUCKET -k KEY [-p FILE]                           download to stdout or FILE
  gof3r cp  SRC DST     one of them s3://BUCKET/KEY, the other a local path or - (stdio)
  gof3r rm  s3://BUCKET/KEY   (or -b BUCKET -k KEY)

Options (every command):
  -b, --bucket NAME        the bucket
  -k, --key KEY            the object key
  -p, --path FILE          local file instead of stdin/stdout
      --endpoint HOST      host[:port] or http(s)://host[:port] (default $AWS_S3_ENDPOINT,
                           else AWS: s3.REGION.amazonaws.com)
      --region NAME        any region (default $AWS_S3_REGION/$AWS_REGION, else us-east-1)
      --no-ssl             plain http for a bare-host endpoint
      --addressing MODE    auto (path-style for an IP, a host:port or a dotted bucket;
                           virtual-hosted otherwise), path or virtual ($AWS_S3_ADDRESSING)
      --path-style         same as --addressing path
  -c, --concurrency N      parts in flight at once (default 3)
  -s, --partsize BYTES     first part size, e.g. 5MiB (default 5 MiB, the least S3 allows);
                           parts double every 1,000 parts so a stream fits S3's 10,000 parts
      --retries N          tries per request for 5xx, resets and timeouts, with backoff
                           capped at 1 s (default 10; 403/404 are never retried)
      --connect-timeout D  dial and TLS handshake (default 30s)
      --response-timeout D wait for a response's headers once a request is sent (default 5m;
                           on a very slow link, raise it above part size / link speed)
      --stall-timeout D    fail a transfer that moves no byte for D (default 2m);
                           a slow link that keeps moving never times out
      --progress           progress on stderr (the default when stderr is a terminal)
      --no-progress        no progress
      --debug              log requests, retries and timings on stderr
  -v, --version            print the version
  -h, --help               this help

put, cp to S3:
  -m, --header 'N: v'      store a header with the object: x-amz-meta-*, Content-Type,
                           Cache-Control, Content-Disposition, Content-Encoding,
                           Content-Language, Expires, x-amz-acl, x-amz-grant-*,
                           x-amz-server-side-encryption*, x-amz-storage-class
get, cp from S3:
      --allow-unverified   stream an object that has no recorded SHA-256 (one not
                           written by gof3r) instead of refusing it

Memory: a stream from a pipe holds at most part size x concurrency bytes of part
buffers (5 MiB x 3 = 15 MiB by default), plus about 12 MB for the program; a regular
file (-p FILE, or stdin redirected from a file) and get need no part buffers.

Integrity: put stores the SHA-256 of the whole object as x-amz-meta-sha256 and get
checks it (exit 1 on a mismatch; with -p, FILE is only replaced when it matches).
It does not rely on ETag == MD5, which SSE-KMS breaks. --md5 and --no-md5 are
accepted for s3gof3r compatibility and change nothing.

Atomicity: an upload that fails or is interrupted (SIGTERM, SIGINT) is aborted:
nothing appears under the key and no multipart upload is left.

Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (each
also as NAME_FILE), else the shared credentials file (AWS_SHARED_CREDENTIALS_FILE,
AWS_PROFILE).

Exit status: 0 done, 1 the transfer failed, 2 usage or configuration error.
`

// Main runs gof3r with args (without the program name) and returns the exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
}

// usageError is a mistake on the command line or in the configuration.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func run(ctx context.Context, args []string, stdin *os.File, stdout io.Writer, stderr *os.File, getenv func(string) string) int {
	err := dispatch(ctx, args, stdin, stdout, stderr, getenv)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "gof3r: %v (see gof3r --help)\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "gof3r: %v\n", oneLine(err))
	return 1
}

func oneLine(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	var se *s3.Error
	if errors.As(err, &se) && se.Status == 403 {
		msg += " (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the region and the bucket's policy)"
	}
	return msg
}

func dispatch(ctx context.Context, args []string, stdin *os.File, stdout io.Writer, stderr *os.File, getenv func(string) string) error {
	// s3gof3r allowed global flags before the command: the command is the
	// first word that is neither a flag nor a flag's value.
	cmd, rest := "", args
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			if takesSeparateValue(a) {
				i++
			}
			continue
		}
		cmd, rest = a, append(append([]string{}, args[:i]...), args[i+1:]...)
		break
	}
	switch cmd {
	case "put", "get", "cp", "rm", "":
	default:
		return usagef("unknown command %q: want put, get, cp or rm", cmd)
	}
	o, err := parseFlags(rest)
	if err != nil {
		return usageError{err.Error()}
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if o.version {
		fmt.Fprintf(stdout, "gof3r %s\n", Version)
		return nil
	}
	if cmd == "" {
		return usagef("no command: want put, get, cp or rm")
	}
	if o.md5 && o.noMD5 {
		return usagef("--md5 and --no-md5 contradict each other")
	}
	level := slog.LevelWarn
	if o.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := s3.ConfigFromEnv(getenv)
	if err != nil {
		return usageError{err.Error()}
	}
	if o.set["endpoint"] {
		cfg.Endpoint = o.endpoint
	}
	if o.set["region"] {
		cfg.Region = o.region
	}
	if o.addressing != "" {
		cfg.Addressing = o.addressing
	}
	cfg.NoSSL = o.noSSL
	cfg.PartSize, cfg.Concurrency, cfg.MaxRetries = o.partSize, o.concurrency, o.retries
	cfg.ConnectTimeout, cfg.ResponseTimeout, cfg.StallTimeout = o.connectTimeout, o.responseTimeout, o.stallTimeout
	cfg.Logger = log
	client, err := s3.New(cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	showProgress := o.progress || (!o.noProgress && isTerminal(stderr))
	j := &job{o: o, c: client, stdin: stdin, stdout: stdout, stderr: stderr, log: log, progress: showProgress}

	switch cmd {
	case "put":
		if len(o.args) > 0 {
			return usagef("put takes no arguments (got %q): use -b, -k and -p", o.args[0])
		}
		if err := needBucketKey(o); err != nil {
			return err
		}
		return j.put(ctx, o.bucket, o.key, o.path)
	case "get":
		if len(o.args) > 0 {
			return usagef("get takes no arguments (got %q): use -b, -k and -p", o.args[0])
		}
		if err := needBucketKey(o); err != nil {
			return err
		}
		return j.get(ctx, o.bucket, o.key, o.path)
	case "cp":
		if len(o.args) != 2 {
			return usagef("cp wants a source and a destination, got %d arguments", len(o.args))
		}
		src, dst := o.args[0], o.args[1]
		sb, sk, serr := s3.ParseURL(src)
		db, dk, derr := s3.ParseURL(dst)
		switch {
		case serr == nil && derr == nil:
			return usagef("cp between two S3 URLs is not supported: get one and put it")
		case derr == nil:
			if strings.HasPrefix(src, "s3:") {
				return usageError{serr.Error()}
			}
			return j.put(ctx, db, dk, dashIsStdio(src))
		case serr == nil:
			if strings.HasPrefix(dst, "s3:") {
				return usageError{derr.Error()}
			}
			return j.get(ctx, sb, sk, dashIsStdio(dst))
		default:
			return usagef("cp needs one s3://bucket/key URL: %v", derr)
		}
	case "rm":
		bucket, key := o.bucket, o.key
		switch {
		case len(o.args) == 1:
			var err error
			if bucket, key, err = s3.ParseURL(o.args[0]); err != nil {
				return usageError{err.Error()}
			}
		case len(o.args) > 1:
			return usagef("rm takes one s3://bucket/key URL")
		default:
			if err := needBucketKey(o); err != nil {
				return err
			}
		}
		return client.Remove(ctx, bucket, key)
	}
	return nil
}

func dashIsStdio(p string) string {
	if p == "-" {
		return ""
	}
	return p
}

func needBucketKey(o *options) error {
	if o.bucket == "" {
		return usagef("-b/--bucket is required")
	}
	if o.key == "" {
		return usagef("-k/--key is required")
	}
	return nil
}

type job struct {
	o        *options
	c        *s3.Client
	stdin    *os.File
	stdout   io.Writer
	stderr   *os.File
	log      *slog.Logger
	progress bool
}

func (j *job) put(ctx context.Context, bucket, key, path string) error {
	opts := s3.PutOptions{Headers: map[string]string{}}
	for _, h := range j.o.headers {
		name, value, _ := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !s3.AllowedHeader(name) {
			return usagef("-m %q: gof3r cannot store header %s with an object", h, name)
		}
		if strings.EqualFold(name, "x-amz-meta-sha256") {
			return usagef("-m %q: x-amz-meta-sha256 is where gof3r records the checksum", h)
		}
		opts.Headers[name] = value
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
	j.log.Debug("put done", "bucket", bucket, "key", key, "size", obj.Size, "sha256", obj.SHA256, "elapsed", time.Since(start))
	return nil
}

func (j *job) get(ctx context.Context, bucket, key, path string) error {
	opts := s3.GetOptions{AllowMissingChecksum: j.o.allowUnverified}
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

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
