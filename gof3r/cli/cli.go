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
	"strings"
	"syscall"

	"cronbox/clikit"
	"cronbox/clikit/procmem"
	"cronbox/gof3r/s3"
)

// Version is set at build time with -ldflags "-X cronbox/gof3r/cli.Version=...".
var Version = "dev"

const usage = `gof3r streams objects to and from S3 and S3-compatible servers, with
bounded memory and checked integrity.

Usage:
  gof3r put -b BUCKET -k KEY [-p FILE] [-m 'Header: value']...   upload stdin or FILE
  gof3r get -b BUCKET -k KEY [-p FILE] [-v VERSION]              download to stdout or FILE
  gof3r cp  SRC DST     one of them s3://BUCKET/KEY, the other a local path or - (stdio)
  gof3r rm  s3://BUCKET/KEY [-v VERSION]  (or -b BUCKET -k KEY)

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
      --sse-c-key-file F   SSE-C: the 256-bit key (32 bytes, or base64/hex) in file F
                           ($AWS_S3_SSE_C_KEY_FILE, or the key itself in $AWS_S3_SSE_C_KEY);
                           every get of the object needs it again
      --progress           progress on stderr (the default when stderr is a terminal)
      --no-progress        no progress
      --debug              log requests, retries and timings on stderr
  -v, --version            print the version (before the command, or in put and cp)
  -h, --help               this help

put, cp to S3:
  -m, --header 'N: v'      store a header with the object: x-amz-meta-*, Content-Type,
                           Cache-Control, Content-Disposition, Content-Encoding,
                           Content-Language, Expires, x-amz-acl, x-amz-grant-*,
                           x-amz-server-side-encryption*, x-amz-storage-class
      --acl NAME           canned ACL: private, bucket-owner-full-control, ... ($AWS_S3_ACL)
      --sse MODE           server-side encryption: AES256, aws:kms or SSE-C ($AWS_S3_SSE)
      --sse-kms-key-id ID  the KMS key for aws:kms ($AWS_S3_SSE_KMS_KEY_ID)
      --object-lock-mode M GOVERNANCE or COMPLIANCE: S3 Object Lock retention; the bucket
                           must have object lock enabled ($AWS_S3_OBJECT_LOCK_MODE)
      --object-lock-retain D  how long: 30d, 1y, 720h ($AWS_S3_OBJECT_LOCK_RETAIN)
      --md5                also store the object's MD5 as .md5/KEY.md5, where s3gof3r's
                           gof3r checks it (so it reads the object without --no-md5)
      --compress ALG       zstd, gzip or none: compress before upload ($GOF3R_COMPRESS;
                           --compress-level N, zstd 1-22, gzip 1-9: $GOF3R_COMPRESS_LEVEL)
      --encrypt-to AGE1..  encrypt (after compressing) to this age recipient; repeat for
                           more ($GOF3R_ENCRYPT_TO); --recipients-file F ($GOF3R_RECIPIENTS_FILE)
      --passphrase-file F  encrypt with a passphrase instead (age scrypt; $GOF3R_PASSPHRASE_FILE,
                           or $GOF3R_PASSPHRASE); the object's metadata records how it was
                           written, and stock tools read it: age -d -i KEY | zstd -d
get, cp from S3:
  -v, --versionId VERSION  that version of the object (a versioned bucket)
      --no-md5             stream an object that has no checksum recorded at all (one
                           written by a tool that records none) instead of refusing it;
                           also --allow-unverified
      --md5                also check the object against .md5/KEY.md5
      --identity FILE      age identity that opens an encrypted object ($GOF3R_IDENTITY_FILE,
                           or the key in $GOF3R_IDENTITY; a passphrase: --passphrase-file);
                           get undoes what the object's metadata says put did
      --raw                the stored bytes, not decompressed or decrypted
rm:
  -v, --versionId VERSION  remove that version

Memory: a stream from a pipe holds at most part size x concurrency bytes of part
buffers (5 MiB x 3 = 15 MiB by default), plus about 12 MB for the program; a regular
file (-p FILE, or stdin redirected from a file) and get need no part buffers.

Integrity: every part carries its CRC64NVME and the whole object's goes with the
upload's completion; the server checks both and refuses to create an object that
differs from what gof3r read. get checks the checksum stored with the object (CRC32,
CRC32C, CRC64NVME, SHA-1 or SHA-256, whole or composite, as S3 and the AWS CLI write
them), the x-amz-meta-sha256 of objects from earlier gof3r versions, or s3gof3r's
.md5/KEY.md5; it exits 1 on a mismatch (with -p, FILE is only replaced when it
matches) and refuses an object with none of them unless --no-md5.

Atomicity: an upload that fails or is interrupted (SIGTERM, SIGINT) is aborted:
nothing appears under the key and no multipart upload is left.

Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (each
also as NAME_FILE), else the shared credentials file (AWS_SHARED_CREDENTIALS_FILE,
AWS_PROFILE).

Exit status: 0 done, 1 the transfer failed, 2 usage or configuration error.
`

// Main runs gof3r with args (without the program name) and returns the exit status.
func Main(args []string) int {
	// The heap is small beside the part buffers (mapped apart from it): a
	// goal of live + 50% instead of Go's 100% keeps a 1 GiB pipe put at
	// 31.5-31.7 MiB peak RSS instead of 32.7-33.1, for no CPU that can be
	// measured (1.4-1.8 CPU-s either way).
	procmem.DefaultGCPercent(os.Environ(), 50)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
}

func usagef(format string, a ...any) error { return clikit.Usagef(format, a...) }

func run(ctx context.Context, args []string, stdin *os.File, stdout io.Writer, stderr *os.File, getenv func(string) string) int {
	err := dispatch(ctx, args, stdin, stdout, stderr, getenv)
	switch {
	case err == nil:
		return 0
	case clikit.IsUsage(err):
		fmt.Fprintf(stderr, "gof3r: %v (see gof3r --help)\n", err)
	default:
		fmt.Fprintf(stderr, "gof3r: %v\n", oneLine(err))
	}
	return clikit.ExitCode(err)
}

// oneLine is err on one line, with a hint where one helps.
func oneLine(err error) string {
	msg := clikit.OneLine(err.Error())
	var se *s3.Error
	switch {
	case errors.Is(err, s3.ErrLocked):
		msg += " (S3 Object Lock: the object can be removed once its retention ends; a GOVERNANCE lock also yields to s3:BypassGovernanceRetention, a COMPLIANCE lock to no one)"
	case errors.Is(err, s3.ErrUnverified):
		msg += " (--no-md5 reads it anyway)"
	case errors.As(err, &se) && se.Status == 403:
		msg += " (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the region and the bucket's policy)"
	}
	return msg
}

// commands are gof3r's commands: each checks its arguments and runs.
var commands = map[string]func(context.Context, *job, []string) error{
	"put": runPut, "get": runGet, "cp": runCp, "rm": runRm,
}

func dispatch(ctx context.Context, args []string, stdin *os.File, stdout io.Writer, stderr *os.File, getenv func(string) string) error {
	cmd, o, pos, err := parseArgs(args, getenv)
	if err != nil {
		return err
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
	if o.md5 && (o.noMD5 || o.allowUnverified) {
		return usagef("--md5 and --no-md5 contradict each other")
	}
	level := slog.LevelWarn
	if o.debug {
		level = slog.LevelDebug
	}
	h, _ := clikit.NewHandler(stderr, "text", level)
	log := slog.New(h)
	client, err := newClient(o, getenv, log)
	if err != nil {
		return err
	}
	j := &job{o: o, c: client, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, log: log,
		progress: o.progress || (!o.noProgress && isTerminal(stderr))}
	return commands[cmd](ctx, j, pos)
}

// newClient is the S3 client: the AWS_* variables (s3.ConfigFromEnv), then
// the flags over them.
func newClient(o *options, getenv func(string) string, log *slog.Logger) (*s3.Client, error) {
	cfg, err := s3.ConfigFromEnv(getenv)
	if err != nil {
		return nil, clikit.Usage(err)
	}
	if o.set("endpoint") {
		cfg.Endpoint = o.endpoint
	}
	if o.set("region") {
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
	return client, clikit.Usage(err)
}

// runCp is `gof3r cp SRC DST`: a put or a get, whichever side is S3.
func runCp(ctx context.Context, j *job, args []string) error {
	if len(args) != 2 {
		return usagef("cp wants a source and a destination, got %d arguments", len(args))
	}
	src, dst := args[0], args[1]
	sb, sk, serr := s3.ParseURL(src)
	db, dk, derr := s3.ParseURL(dst)
	switch {
	case serr == nil && derr == nil:
		return usagef("cp between two S3 URLs is not supported: get one and put it")
	case derr == nil:
		if strings.HasPrefix(src, "s3:") {
			return clikit.Usage(serr)
		}
		return j.put(ctx, db, dk, dashIsStdio(src))
	case serr == nil:
		if strings.HasPrefix(dst, "s3:") {
			return clikit.Usage(derr)
		}
		return j.get(ctx, sb, sk, dashIsStdio(dst))
	}
	return usagef("cp needs one s3://bucket/key URL: %v", derr)
}

func dashIsStdio(p string) string {
	if p == "-" {
		return ""
	}
	return p
}

// needBucketKey refuses a command without -b and -k, or with arguments.
func needBucketKey(cmd string, o *options, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments (got %q): use -b, -k and -p", cmd, args[0])
	}
	if o.bucket == "" {
		return usagef("-b/--bucket is required")
	}
	if o.key == "" {
		return usagef("-k/--key is required")
	}
	return nil
}

// job is one command's run: its options, client and streams.
type job struct {
	o        *options
	c        *s3.Client
	stdin    *os.File
	stdout   io.Writer
	stderr   *os.File
	getenv   func(string) string
	log      *slog.Logger
	progress bool
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
