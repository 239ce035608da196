// Package cli is the etcd-backup command line: it parses flags and the
// environment, and calls the packages that do the work (backup, dump,
// etcdconn). Exit status: 0 success, 1 the work failed, 2 usage or
// configuration error.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/etcdconn"
	"cronbox/gof3r/s3"
)

// Version is set at build time with -ldflags "-X cronbox/etcd-backup/cli.Version=...".
var Version = "dev"

// Main runs etcd-backup with args (without the program name) and returns the exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return Run(ctx, args, Env{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

// Env is everything Run takes from the process, so tests can hand in their own.
type Env struct {
	Getenv         func(string) string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Now            func() time.Time

	check *check // set by `etcd-backup check` (check.go)
}

// usageError is a bad flag, argument or variable: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

const topUsage = `etcd-backup: consistent etcd v3 backups, streamed to S3 and verified before they count.

Usage:
  etcd-backup save    [flags] [DEST]     snapshot one healthy member to DEST: -, a file, or s3://bucket/key
                                         (s3://bucket/prefix/ or no DEST: a timestamped key under --prefix)
  etcd-backup save --incremental [s3://bucket/prefix/]   a delta since the chain's newest revision, or a full snapshot
  etcd-backup verify  [flags] SRC        check both hashes and print revision, keys and size
  etcd-backup restore [flags] SRC --data-dir DIR   restore into a new data dir
  etcd-backup restore s3://bucket/prefix/ [--to-revision R | --to-time T] --data-dir DIR   a point in time of a chain
  etcd-backup dump    [flags] [DEST]     logical JSON export of the keys under --key
  etcd-backup load    [flags] [SRC]      import a dump (refuses existing keys unless --overwrite)
  etcd-backup prune   [flags] [s3://bucket/prefix/]   delete old backups, keeping --min-keep verified ones
  etcd-backup check                      check the job's configuration as the commands read it; contacts nothing
  etcd-backup version

Run "etcd-backup COMMAND --help" for a command's flags. Every flag also has an
environment variable (shown in its help). Exit status: 0 ok, 1 failed, 2 usage.
`

// Run is Main with its process environment handed in.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, topUsage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprint(env.Stdout, topUsage)
		return 0
	case "--version", "-version", "version":
		fmt.Fprintln(env.Stdout, "etcd-backup", Version)
		return 0
	case "save":
		err = runSave(ctx, rest, env)
	case "verify":
		err = runVerify(ctx, rest, env)
	case "restore":
		err = runRestore(ctx, rest, env)
	case "dump":
		err = runDump(ctx, rest, env)
	case "load":
		err = runLoad(ctx, rest, env)
	case "prune":
		err = runPrune(ctx, rest, env)
	case "check":
		err = runCheck(rest, env)
	default:
		fmt.Fprintf(env.Stderr, "etcd-backup: unknown command %q (save, verify, restore, dump, load, prune, check)\n", cmd)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "etcd-backup %s: %s\n", cmd, oneLine(err.Error()))
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// flags is one subcommand's flag set, with environment fallbacks.
type flags struct {
	fs    *flag.FlagSet
	env   Env
	vars  []envVar
	name  string
	usage string
	from  map[string]string // flag name -> the variable that set it
}

type envVar struct {
	flag  string
	names []string
}

func newFlags(name, usage string, env Env) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by Run
	fs.Usage = func() {}
	f := &flags{fs: fs, env: env, name: name, usage: usage, from: map[string]string{}}
	if env.check != nil {
		env.check.flags = f
	}
	return f
}

func (f *flags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: etcd-backup %s\n\nFlags (each also read from the variables in brackets):\n", f.usage)
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
	f.fs.SetOutput(io.Discard)
}

// origin names where a flag's value came from, for error messages.
func (f *flags) origin(name string) string {
	if v, ok := f.from[name]; ok {
		return v
	}
	return "--" + name
}

// both names a flag that was not given, with its variables: for a
// message saying it is missing ("--object-lock-retain (AWS_S3_OBJECT_LOCK_RETAIN)").
func (f *flags) both(name string) string {
	for _, v := range f.vars {
		if v.flag == name && len(v.names) > 0 {
			return "--" + name + " (" + strings.Join(v.names, ", ") + ")"
		}
	}
	return "--" + name
}

// str defines a string flag that falls back to the first set variable.
func (f *flags) str(p *string, name, def, help string, envs ...string) {
	if len(envs) > 0 {
		help += " [" + strings.Join(envs, ", ") + "]"
	}
	f.fs.StringVar(p, name, def, help)
	f.vars = append(f.vars, envVar{name, envs})
}

// boolean defines a boolean flag (given alone, or =true/=false) with variables.
func (f *flags) boolean(p *bool, name, help string, envs ...string) {
	if len(envs) > 0 {
		help += " [" + strings.Join(envs, ", ") + "]"
	}
	f.fs.BoolVar(p, name, false, help)
	f.vars = append(f.vars, envVar{name, envs})
}

// parse parses args (flags and positional arguments may be mixed, as with
// etcdctl), then fills every flag not given from its variables.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.printUsage(f.env.Stdout)
				return nil, err
			}
			return nil, usageError{err}
		}
		args = f.fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for _, v := range f.vars {
		if given[v.flag] {
			continue
		}
		for _, n := range v.names {
			if val := strings.TrimSpace(f.env.Getenv(n)); val != "" {
				if err := f.fs.Set(v.flag, val); err != nil {
					return nil, usagef("%s=%q: %v", n, val, err)
				}
				f.from[v.flag] = n
				break
			}
		}
	}
	return pos, nil
}

// connFlags are etcdctl's connection flags.
type connFlags struct {
	endpoints, cacert, cert, key, user, passwordFile string
	dialTimeout, commandTimeout                      string
	insecure                                         bool
}

func (c *connFlags) define(f *flags) {
	f.str(&c.endpoints, "endpoints", "", "comma-separated etcd client URLs; the first healthy member is used (default http://127.0.0.1:2379)", "ETCDCTL_ENDPOINTS", "ETCD_ENDPOINTS", "ETCD_MACHINES")
	f.str(&c.cacert, "cacert", "", "CA bundle that signed the servers' certificates", "ETCDCTL_CACERT")
	f.str(&c.cert, "cert", "", "client certificate", "ETCDCTL_CERT")
	f.str(&c.key, "key", "", "client certificate's key", "ETCDCTL_KEY")
	f.boolean(&c.insecure, "insecure-skip-tls-verify", "accept any server certificate", "ETCDCTL_INSECURE_SKIP_TLS_VERIFY")
	f.str(&c.user, "user", "", "username[:password]; the password is better given by variable or file", "ETCDCTL_USER")
	f.str(&c.passwordFile, "password-file", "", "file holding the password", "ETCDCTL_PASSWORD_FILE")
	f.str(&c.dialTimeout, "dial-timeout", "2s", "time to connect to (and authenticate with) a member", "ETCDCTL_DIAL_TIMEOUT")
	f.str(&c.commandTimeout, "command-timeout", "5s", "time for one short request", "ETCDCTL_COMMAND_TIMEOUT")
}

func (c *connFlags) config(env Env, f *flags) (etcdconn.Config, error) {
	var cfg etcdconn.Config
	eps := c.endpoints
	if leader := strings.TrimSpace(env.Getenv("ETCD_LEADER")); leader != "" {
		// The original image's leader URL goes first; the others follow.
		eps = leader + "," + eps
	}
	cfg.Endpoints = etcdconn.ParseEndpoints(eps)
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = []string{"http://127.0.0.1:2379"}
	}
	for _, src := range []struct{ origin, value string }{{"ETCD_LEADER", env.Getenv("ETCD_LEADER")}, {f.origin("endpoints"), c.endpoints}} {
		for _, ep := range etcdconn.ParseEndpoints(src.value) {
			if err := etcdconn.CheckEndpoint(ep); err != nil {
				return cfg, usagef("%s %q: %v", src.origin, strings.TrimSpace(src.value), err)
			}
		}
	}
	cfg.CACert, cfg.Cert, cfg.Key = c.cacert, c.cert, c.key
	cfg.InsecureSkipVerify = c.insecure
	var err error
	if cfg.DialTimeout, err = parseDuration(c.dialTimeout); err != nil {
		return cfg, usagef("%s: %v", f.origin("dial-timeout"), err)
	}
	if cfg.CommandTimeout, err = parseDuration(c.commandTimeout); err != nil {
		return cfg, usagef("%s: %v", f.origin("command-timeout"), err)
	}
	if c.user != "" {
		name, pw, hasPW := strings.Cut(c.user, ":")
		cfg.User = name
		if hasPW {
			cfg.Password = pw
		}
	}
	var filePW string
	if pwFile := c.passwordFile; pwFile != "" {
		// A password file is read (and refused if unreadable) even when
		// it would not be used: a wrong path must not pass unnoticed.
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return cfg, usagef("%s: %v", f.origin("password-file"), err)
		}
		if cfg.User == "" {
			return cfg, usagef("%s %s is given without --user (ETCDCTL_USER): the password would be ignored", f.origin("password-file"), pwFile)
		}
		filePW = strings.TrimRight(string(b), "\r\n")
	}
	if cfg.Password == "" && cfg.User != "" {
		pwEnv := env.Getenv("ETCDCTL_PASSWORD")
		switch {
		case pwEnv != "" && c.passwordFile != "":
			return cfg, usagef("ETCDCTL_PASSWORD and %s %s are both given; keep one", f.origin("password-file"), c.passwordFile)
		case c.passwordFile != "":
			cfg.Password = filePW
		default:
			cfg.Password = pwEnv
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// parseDuration takes Go durations and whole days ("7d").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: not a duration", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: not a duration (such as 30s, 5m, 7d)", s)
	}
	return d, nil
}

// parseSize takes bytes with an optional K, M, G suffix (powers of 1024).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I"))
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q: not a size (such as 8M)", s)
	}
	return n * mult, nil
}

// s3Flags tune the S3 client and say how objects are encrypted at rest;
// credentials and endpoint come from the AWS_* variables (see
// cronbox/gof3r/s3.ConfigFromEnv). The SSE variables are gof3r's
// (s3.ObjectEnv): an SSE-C key is needed to read too.
type s3Flags struct {
	partSize, concurrency        string
	sse, sseKMSKeyID, sseKeyFile string
}

// minPartSize is S3's smallest multipart part (all parts but the last).
const minPartSize = 5 << 20

func (s *s3Flags) define(f *flags) {
	f.str(&s.partSize, "s3-part-size", "5M", "S3 multipart part size; memory is part size x concurrency", "ETCD_BACKUP_S3_PART_SIZE")
	f.str(&s.concurrency, "s3-concurrency", "3", "S3 parts in flight", "ETCD_BACKUP_S3_CONCURRENCY")
	f.str(&s.sse, "sse", "", "server-side encryption of what is written: AES256, aws:kms or SSE-C", "AWS_S3_SSE")
	f.str(&s.sseKMSKeyID, "sse-kms-key-id", "", "the KMS key for aws:kms (default: the account's aws/s3 key)", "AWS_S3_SSE_KMS_KEY_ID")
	f.str(&s.sseKeyFile, "sse-c-key-file", "", "file holding the SSE-C key (32 bytes, or base64 or hex), needed to read the objects too [or the key in AWS_S3_SSE_C_KEY]", "AWS_S3_SSE_C_KEY_FILE")
}

// sseConfig reads the SSE flags; a bad value names its flag or variable
// (never the key).
func (s *s3Flags) sseConfig(env Env, f *flags, log *slog.Logger) (s3.SSE, error) {
	var key []byte
	inline := strings.TrimSpace(env.Getenv("AWS_S3_SSE_C_KEY"))
	switch {
	case inline != "" && s.sseKeyFile != "":
		return s3.SSE{}, usagef("AWS_S3_SSE_C_KEY and %s are both set: set only one", f.origin("sse-c-key-file"))
	case inline != "":
		k, err := s3.ParseCustomerKey([]byte(inline))
		if err != nil || len(inline) == 32 {
			return s3.SSE{}, usagef("AWS_S3_SSE_C_KEY: not a 256-bit key in base64 or hex")
		}
		key = k
	case s.sseKeyFile != "":
		k, warn, err := s3.ReadCustomerKeyFile(s.sseKeyFile)
		if err != nil {
			return s3.SSE{}, usagef("%s: %v", f.origin("sse-c-key-file"), err)
		}
		if warn != "" {
			log.Warn("SSE-C key file is not private", "variable", f.origin("sse-c-key-file"), "warning", warn)
		}
		key = k
	}
	sse, err := s3.ParseSSE(s.sse, s.sseKMSKeyID, key)
	if err != nil {
		return sse, usagef("%s %q: %v", f.origin("sse"), s.sse, err)
	}
	return sse, nil
}

func (s *s3Flags) store(env Env, f *flags, log *slog.Logger) (backup.Store, error) {
	partSize, err := parseSize(s.partSize)
	if err != nil {
		return nil, usagef("%s: %v", f.origin("s3-part-size"), err)
	}
	if partSize < minPartSize {
		return nil, usagef("%s %q: below S3's minimum part size of 5M", f.origin("s3-part-size"), s.partSize)
	}
	concurrency, err := strconv.Atoi(s.concurrency)
	if err != nil || concurrency < 1 {
		return nil, usagef("%s %q: want a positive number", f.origin("s3-concurrency"), s.concurrency)
	}
	sse, err := s.sseConfig(env, f, log)
	if err != nil {
		return nil, err
	}
	cfg, err := s3.ConfigFromEnv(env.Getenv)
	if err != nil {
		return nil, usagef("S3 configuration: %v", err)
	}
	cfg.PartSize, cfg.Concurrency = partSize, concurrency
	cfg.Logger = log
	c, err := s3.New(cfg)
	if err != nil {
		return nil, usagef("S3 configuration: %v", err)
	}
	return backup.S3Store{C: c, SSE: sse}, nil
}

// lockFlags put an S3 Object Lock retention on what save writes; the
// variables are gof3r's (s3.ObjectEnv).
type lockFlags struct{ mode, retain string }

func (l *lockFlags) define(f *flags) {
	f.str(&l.mode, "object-lock-mode", "", "S3 Object Lock retention of the backup: GOVERNANCE or COMPLIANCE (the bucket must have object lock enabled)", "AWS_S3_OBJECT_LOCK_MODE")
	f.str(&l.retain, "object-lock-retain", "", "how long the lock keeps the backup from deletion: 30d, 1y, 720h", "AWS_S3_OBJECT_LOCK_RETAIN")
}

func (l *lockFlags) parse(f *flags) (string, time.Duration, error) {
	mode, err := s3.ParseLockMode(l.mode)
	if err != nil {
		return "", 0, usagef("%s %q: %v", f.origin("object-lock-mode"), l.mode, err)
	}
	switch {
	case mode == "" && strings.TrimSpace(l.retain) != "":
		return "", 0, usagef("%s is set without %s: GOVERNANCE or COMPLIANCE", f.origin("object-lock-retain"), f.both("object-lock-mode"))
	case mode == "":
		return "", 0, nil
	case strings.TrimSpace(l.retain) == "":
		return "", 0, usagef("%s %s needs %s (how long)", f.origin("object-lock-mode"), mode, f.both("object-lock-retain"))
	}
	d, err := s3.ParseRetention(l.retain)
	if err != nil {
		return "", 0, usagef("%s %q: %v", f.origin("object-lock-retain"), l.retain, err)
	}
	return mode, d, nil
}

func newLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(getenv("ETCD_BACKUP_LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func printJSON(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintln(w, string(b))
}
