package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"cronbox/clikit"
	"cronbox/gof3r/s3"
)

// options are gof3r's flags, spelled as s3gof3r's command line spells them
// (go-flags style: -b bucket, -bbucket, --bucket=b, --bucket b), plus ours.
type options struct {
	bucket, key, path, endpoint, region, addressing string
	noSSL, debug, progress, noProgress              bool
	md5, noMD5, allowUnverified, version, help      bool
	concurrency                                     int
	partSize                                        int64
	headers                                         []string
	retries                                         int
	connectTimeout, responseTimeout, stallTimeout   time.Duration
	versionID                                       string // get, rm: -v/--versionId
	acl                                             string
	sse, sseKMSKeyID, sseCKeyFile                   string
	lockMode                                        string
	lockRetain                                      time.Duration
	// codec.go: compression and age encryption (put), identities (get)
	compress, compressLevel, recipientsFile, passphraseFile, identity string
	encryptTo                                                         []string
	raw                                                               bool

	fs *clikit.FlagSet // where each value came from
}

// set reports whether flag name was given on the command line.
func (o *options) set(name string) bool { return o.fs.Given(name) }

// flagValue is a flag whose value set checks and stores.
type flagValue struct {
	set  func(string) error
	bool bool
}

func (v flagValue) Set(s string) error { return v.set(s) }
func (v flagValue) String() string     { return "" }
func (v flagValue) IsBoolFlag() bool   { return v.bool }

// define declares gof3r's flags for cmd ("" before the command). s3gof3r's
// -v is the object's version in get and rm, gof3r's version elsewhere.
func (o *options) define(fs *clikit.FlagSet, cmd string) {
	o.fs = fs
	str := func(p *string, short byte, long string, vars ...string) {
		fs.String(p, long, "", "", vars...)
		if short != 0 {
			fs.Short(short, long)
		}
	}
	check := func(short byte, long string, set func(string) error) {
		fs.Var(flagValue{set: set}, long, "")
		if short != 0 {
			fs.Short(short, long)
		}
	}
	flag := func(short byte, long string, set func()) {
		fs.Var(flagValue{set: func(v string) error {
			if b, err := strconv.ParseBool(v); err != nil || !b {
				return fmt.Errorf("takes no value")
			}
			set()
			return nil
		}, bool: true}, long, "")
		if short != 0 {
			fs.Short(short, long)
		}
	}
	str(&o.bucket, 'b', "bucket")
	str(&o.key, 'k', "key")
	str(&o.path, 'p', "path")
	str(&o.endpoint, 0, "endpoint")
	str(&o.region, 0, "region")
	check(0, "addressing", func(v string) error {
		switch v {
		case "auto", "path", "virtual":
			o.addressing = v
			return nil
		}
		return fmt.Errorf("want auto, path or virtual")
	})
	flag(0, "path-style", func() { o.addressing = "path" })
	flag(0, "virtual-hosted", func() { o.addressing = "virtual" })
	flag(0, "no-ssl", func() { o.noSSL = true })
	check('c', "concurrency", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fmt.Errorf("want a number from 1 to 1000")
		}
		o.concurrency = n
		return nil
	})
	check('s', "partsize", func(v string) error {
		n, err := clikit.ParseSize(v)
		if err != nil || n == 0 {
			return fmt.Errorf("want a size in bytes such as 20971520 or 20MiB")
		}
		if n < 5<<20 || n > 5<<30 {
			return fmt.Errorf("want 5 MiB to 5 GiB (S3's limits)")
		}
		o.partSize = n
		return nil
	})
	check('m', "header", func(v string) error {
		if !strings.Contains(v, ":") {
			return fmt.Errorf("want 'Name: value'")
		}
		o.headers = append(o.headers, v)
		return nil
	})
	check(0, "acl", func(v string) (err error) { o.acl, err = s3.ParseACL(v); return err })
	flag(0, "md5", func() { o.md5 = true })
	flag(0, "no-md5", func() { o.noMD5 = true })
	flag(0, "allow-unverified", func() { o.allowUnverified = true })
	check(0, "sse", func(v string) (err error) { o.sse, err = s3.ParseSSEMode(v); return err })
	check(0, "sse-kms-key-id", func(v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("empty")
		}
		o.sseKMSKeyID = v
		return nil
	})
	str(&o.sseCKeyFile, 0, "sse-c-key-file")
	check(0, "object-lock-mode", func(v string) (err error) { o.lockMode, err = s3.ParseLockMode(v); return err })
	check(0, "object-lock-retain", func(v string) (err error) { o.lockRetain, err = s3.ParseRetention(v); return err })
	// The codec's flags fall back to variables (codec.go).
	str(&o.compress, 0, "compress", "GOF3R_COMPRESS")
	str(&o.compressLevel, 0, "compress-level", "GOF3R_COMPRESS_LEVEL")
	fs.Var(flagValue{set: func(v string) error { o.encryptTo = append(o.encryptTo, v); return nil }}, "encrypt-to", "", "GOF3R_ENCRYPT_TO")
	str(&o.recipientsFile, 0, "recipients-file", "GOF3R_RECIPIENTS_FILE")
	str(&o.passphraseFile, 0, "passphrase-file", "GOF3R_PASSPHRASE_FILE")
	str(&o.identity, 0, "identity", "GOF3R_IDENTITY_FILE")
	flag(0, "raw", func() { o.raw = true })
	flag(0, "debug", func() { o.debug = true })
	flag(0, "progress", func() { o.progress = true })
	flag(0, "no-progress", func() { o.noProgress = true })
	check(0, "retries", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return fmt.Errorf("want a number of tries from 1 to 100")
		}
		o.retries = n
		return nil
	})
	for _, d := range []struct {
		long string
		p    *time.Duration
	}{{"connect-timeout", &o.connectTimeout}, {"response-timeout", &o.responseTimeout}, {"stall-timeout", &o.stallTimeout}} {
		check(0, d.long, func(v string) error {
			n, err := time.ParseDuration(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("want a positive duration such as 30s or 5m")
			}
			*d.p = n
			return nil
		})
	}
	if cmd == "get" || cmd == "rm" {
		check('v', "versionId", func(v string) error {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("empty")
			}
			o.versionID = v
			return nil
		})
		flag(0, "version", func() { o.version = true })
	} else {
		flag('v', "version", func() { o.version = true })
	}
	flag('h', "help", func() { o.help = true })
}

// parseArgs finds the command (the first word that is neither a flag nor
// a flag's value: s3gof3r allowed flags before it) and reads every flag,
// before and after it, into one options. Flags and positional arguments
// may be mixed after the command; "--" ends the flags.
func parseArgs(args []string, getenv func(string) string) (string, *options, []string, error) {
	// Where the command is: the flags before it, as they read there.
	before := clikit.NewFlagSet("gof3r", nil)
	before.POSIX, before.ShortAndLong = true, true
	new(options).define(before, "")
	if err := before.Parse(args); err != nil {
		return "", nil, nil, err
	}
	cmd, after := "", []string(nil)
	if rest := before.Args(); len(rest) > 0 && before.Dash() != 0 {
		cmd, after = rest[0], rest[1:]
		args = args[:len(args)-len(rest)]
	}
	switch cmd {
	case "put", "get", "cp", "rm", "":
	default:
		return "", nil, nil, usagef("unknown command %q: want put, get, cp or rm", cmd)
	}
	// Before the command -v is gof3r's version in every command.
	words := make([]string, 0, len(args)+len(after))
	for _, a := range args {
		if a == "-v" {
			a = "--version"
		}
		words = append(words, a)
	}
	fs := clikit.NewFlagSet("gof3r", clikit.Getenv(getenv))
	fs.POSIX, fs.ShortAndLong, fs.Interspersed, fs.TrimSpace = true, true, true, true
	o := &options{}
	o.define(fs, cmd)
	if err := fs.Parse(append(words, after...)); err != nil {
		return cmd, nil, nil, err
	}
	return cmd, o, fs.Args(), nil
}
