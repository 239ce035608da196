package cli

import (
	"log/slog"
	"strings"
	"time"

	"cronbox/clikit"
	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/etcdconn"
	"cronbox/gof3r/s3"
)

// The option groups several commands share: how to reach etcd (connFlags),
// the S3 client and its server-side encryption (s3Flags), an object lock
// (lockFlags). codecflags.go has how backups are stored and opened.

// connFlags are etcdctl's connection flags.
type connFlags struct {
	endpoints, cacert, cert, key, user, passwordFile string
	dialTimeout, commandTimeout                      time.Duration
	insecure                                         bool
}

func (c *connFlags) define(fs *clikit.FlagSet) {
	fs.String(&c.endpoints, "endpoints", "", "comma-separated etcd client URLs; the first healthy member is used (default http://127.0.0.1:2379)", "ETCDCTL_ENDPOINTS", "ETCD_ENDPOINTS", "ETCD_MACHINES")
	fs.String(&c.cacert, "cacert", "", "CA bundle that signed the servers' certificates", "ETCDCTL_CACERT")
	fs.String(&c.cert, "cert", "", "client certificate", "ETCDCTL_CERT")
	fs.String(&c.key, "key", "", "client certificate's key", "ETCDCTL_KEY")
	fs.Bool(&c.insecure, "insecure-skip-tls-verify", false, "accept any server certificate", "ETCDCTL_INSECURE_SKIP_TLS_VERIFY")
	fs.String(&c.user, "user", "", "username[:password]; the password is better given by variable or file", "ETCDCTL_USER")
	fs.String(&c.passwordFile, "password-file", "", "file holding the password", "ETCDCTL_PASSWORD_FILE")
	fs.Duration(&c.dialTimeout, "dial-timeout", 2*time.Second, "time to connect to (and authenticate with) a member", "ETCDCTL_DIAL_TIMEOUT")
	fs.Duration(&c.commandTimeout, "command-timeout", 5*time.Second, "time for one short request", "ETCDCTL_COMMAND_TIMEOUT")
}

func (c *connFlags) config(env Env, fs *clikit.FlagSet) (etcdconn.Config, error) {
	var cfg etcdconn.Config
	if err := fs.NonNegative("dial-timeout", "command-timeout"); err != nil {
		return cfg, err
	}
	eps := c.endpoints
	if leader := strings.TrimSpace(env.Getenv("ETCD_LEADER")); leader != "" {
		// The original image's leader URL goes first; the others follow.
		eps = leader + "," + eps
	}
	cfg.Endpoints = clikit.ParseEndpoints(eps)
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = []string{"http://127.0.0.1:2379"}
	}
	for _, src := range []struct{ origin, value string }{{"ETCD_LEADER", env.Getenv("ETCD_LEADER")}, {fs.Origin("endpoints"), c.endpoints}} {
		for _, ep := range clikit.ParseEndpoints(src.value) {
			if err := etcdconn.CheckEndpoint(ep); err != nil {
				return cfg, usagef("%s %q: %v", src.origin, strings.TrimSpace(src.value), err)
			}
		}
	}
	cfg.CACert, cfg.Cert, cfg.Key = c.cacert, c.cert, c.key
	cfg.InsecureSkipVerify = c.insecure
	cfg.DialTimeout, cfg.CommandTimeout = c.dialTimeout, c.commandTimeout
	var err error
	if cfg.User, cfg.Password, err = c.credentials(env, fs); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, clikit.Usage(err)
	}
	return cfg, nil
}

// credentials are etcdctl's user and password: --user name:password, or
// the password from ETCDCTL_PASSWORD or the password file.
func (c *connFlags) credentials(env Env, fs *clikit.FlagSet) (user, password string, err error) {
	user, password, _ = strings.Cut(c.user, ":")
	var filePW string
	if c.passwordFile != "" {
		// A password file is read (and refused if unreadable) even when
		// it would not be used: a wrong path must not pass unnoticed.
		if filePW, err = clikit.ReadSecretFile(c.passwordFile); err != nil {
			return "", "", usagef("%s: %v", fs.Origin("password-file"), err)
		}
		if user == "" {
			return "", "", usagef("%s %s is given without --user (ETCDCTL_USER): the password would be ignored", fs.Origin("password-file"), c.passwordFile)
		}
	}
	if password != "" || user == "" {
		return user, password, nil
	}
	pwEnv := env.Getenv("ETCDCTL_PASSWORD")
	switch {
	case pwEnv != "" && c.passwordFile != "":
		return "", "", usagef("ETCDCTL_PASSWORD and %s %s are both given; keep one", fs.Origin("password-file"), c.passwordFile)
	case c.passwordFile != "":
		return user, filePW, nil
	}
	return user, pwEnv, nil
}

// s3Flags tune the S3 client and say how objects are encrypted at rest;
// credentials and endpoint come from the AWS_* variables (see
// cronbox/gof3r/s3.ConfigFromEnv). The SSE variables are gof3r's
// (s3.ObjectEnv): an SSE-C key is needed to read too.
type s3Flags struct {
	partSize                     int64
	concurrency                  int
	sse, sseKMSKeyID, sseKeyFile string
}

// minPartSize is S3's smallest multipart part (all parts but the last).
const minPartSize = 5 << 20

func (s *s3Flags) define(fs *clikit.FlagSet) {
	fs.Size(&s.partSize, "s3-part-size", minPartSize, "S3 multipart part size; memory is part size x concurrency", "ETCD_BACKUP_S3_PART_SIZE")
	fs.Int(&s.concurrency, "s3-concurrency", 3, "S3 parts in flight", "ETCD_BACKUP_S3_CONCURRENCY")
	fs.String(&s.sse, "sse", "", "server-side encryption of what is written: AES256, aws:kms or SSE-C", "AWS_S3_SSE")
	fs.String(&s.sseKMSKeyID, "sse-kms-key-id", "", "the KMS key for aws:kms (default: the account's aws/s3 key)", "AWS_S3_SSE_KMS_KEY_ID")
	fs.String(&s.sseKeyFile, "sse-c-key-file", "", "file holding the SSE-C key (32 bytes, or base64 or hex), needed to read the objects too [or the key in AWS_S3_SSE_C_KEY]", "AWS_S3_SSE_C_KEY_FILE")
}

// sseConfig reads the SSE flags; a bad value names its flag or variable
// (never the key).
func (s *s3Flags) sseConfig(env Env, fs *clikit.FlagSet, log *slog.Logger) (s3.SSE, error) {
	var key []byte
	inline := strings.TrimSpace(env.Getenv("AWS_S3_SSE_C_KEY"))
	switch {
	case inline != "" && s.sseKeyFile != "":
		return s3.SSE{}, bothSet(fs, "AWS_S3_SSE_C_KEY", "sse-c-key-file")
	case inline != "":
		k, err := s3.ParseCustomerKey([]byte(inline))
		if err != nil || len(inline) == 32 {
			return s3.SSE{}, usagef("AWS_S3_SSE_C_KEY: not a 256-bit key in base64 or hex")
		}
		key = k
	case s.sseKeyFile != "":
		k, warn, err := s3.ReadCustomerKeyFile(s.sseKeyFile)
		if err != nil {
			return s3.SSE{}, usagef("%s: %v", fs.Origin("sse-c-key-file"), err)
		}
		if warn != "" {
			log.Warn("SSE-C key file is not private", "variable", fs.Origin("sse-c-key-file"), "warning", warn)
		}
		key = k
	}
	sse, err := s3.ParseSSE(s.sse, s.sseKMSKeyID, key)
	if err != nil {
		return sse, usagef("%s %q: %v", fs.Origin("sse"), s.sse, err)
	}
	return sse, nil
}

func (s *s3Flags) store(env Env, fs *clikit.FlagSet, log *slog.Logger) (backup.Store, error) {
	if s.partSize < minPartSize {
		return nil, usagef("%s: %d bytes, below S3's minimum part size of 5M", fs.Origin("s3-part-size"), s.partSize)
	}
	if s.concurrency < 1 {
		return nil, usagef("%s: want a positive number", fs.Quote("s3-concurrency"))
	}
	sse, err := s.sseConfig(env, fs, log)
	if err != nil {
		return nil, err
	}
	cfg, err := s3.ConfigFromEnv(env.Getenv)
	if err != nil {
		return nil, usagef("S3 configuration: %v", err)
	}
	cfg.PartSize, cfg.Concurrency = s.partSize, s.concurrency
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

func (l *lockFlags) define(fs *clikit.FlagSet) {
	fs.String(&l.mode, "object-lock-mode", "", "S3 Object Lock retention of the backup: GOVERNANCE or COMPLIANCE (the bucket must have object lock enabled)", "AWS_S3_OBJECT_LOCK_MODE")
	fs.String(&l.retain, "object-lock-retain", "", "how long the lock keeps the backup from deletion: 30d, 1y, 720h", "AWS_S3_OBJECT_LOCK_RETAIN")
}

func (l *lockFlags) parse(fs *clikit.FlagSet) (string, time.Duration, error) {
	mode, err := s3.ParseLockMode(l.mode)
	if err != nil {
		return "", 0, usagef("%s %q: %v", fs.Origin("object-lock-mode"), l.mode, err)
	}
	switch {
	case mode == "" && strings.TrimSpace(l.retain) != "":
		return "", 0, usagef("%s is set without %s: GOVERNANCE or COMPLIANCE", fs.Origin("object-lock-retain"), both(fs, "object-lock-mode"))
	case mode == "":
		return "", 0, nil
	case strings.TrimSpace(l.retain) == "":
		return "", 0, usagef("%s %s needs %s (how long)", fs.Origin("object-lock-mode"), mode, both(fs, "object-lock-retain"))
	}
	d, err := s3.ParseRetention(l.retain)
	if err != nil {
		return "", 0, usagef("%s %q: %v", fs.Origin("object-lock-retain"), l.retain, err)
	}
	return mode, d, nil
}

// bothSet is the usage error for a secret given twice: in the variable
// name, and in the file that fileFlag (or its variable, name_FILE) names.
func bothSet(fs *clikit.FlagSet, name, fileFlag string) error {
	return usagef("%s and %s are both set: set only one", name, fs.Origin(fileFlag))
}

// sourceFlags are what verify, restore and load read a backup with: the S3
// client, and the keys that open an encrypted one.
type sourceFlags struct {
	s3  s3Flags
	key keyFlags
}

func (s *sourceFlags) define(fs *clikit.FlagSet) {
	s.s3.define(fs)
	s.key.define(fs)
}

// fetcher builds what reads src.
func (s *sourceFlags) fetcher(src backup.Location, env Env, fs *clikit.FlagSet) (*backup.Fetcher, error) {
	log := newLogger(env)
	ids, err := s.key.identities(env, fs, log)
	if err != nil {
		return nil, err
	}
	fe := &backup.Fetcher{Stdin: env.Stdin, Identities: ids}
	if src.Kind == backup.S3 {
		if fe.Store, err = s.s3.store(env, fs, log); err != nil {
			return nil, err
		}
	}
	return fe, nil
}

// oneSource reads the one source a command takes.
func oneSource(pos []string, what string) (backup.Location, error) {
	if len(pos) != 1 {
		return backup.Location{}, usagef("want one %s (-, a path or s3://bucket/key), got %d arguments", what, len(pos))
	}
	l, err := backup.ParseLocation(pos[0], "")
	return l, clikit.Usage(err)
}
