package cli

import (
	"fmt"
	"slices"
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

// flagSpec is one of gof3r's flags: its names, whether it takes a value,
// the variables it falls back to, and how its value is checked and stored.
type flagSpec struct {
	short      byte
	long       string
	takesValue bool
	vars       []string
	apply      func(o *options, v string) error
	// cmds, when set, are the only commands that take the flag; another
	// spec may then use the same short name elsewhere (-v).
	cmds []string
}

// flagSpecs are gof3r's flags, in s3gof3r's spelling where it has them.
var flagSpecs = []flagSpec{
	{'b', "bucket", true, nil, func(o *options, v string) error { o.bucket = v; return nil }, nil},
	{'k', "key", true, nil, func(o *options, v string) error { o.key = v; return nil }, nil},
	{'p', "path", true, nil, func(o *options, v string) error { o.path = v; return nil }, nil},
	{0, "endpoint", true, nil, func(o *options, v string) error { o.endpoint = v; return nil }, nil},
	{0, "region", true, nil, func(o *options, v string) error { o.region = v; return nil }, nil},
	{0, "addressing", true, nil, func(o *options, v string) error {
		switch v {
		case "auto", "path", "virtual":
			o.addressing = v
			return nil
		}
		return fmt.Errorf("want auto, path or virtual")
	}, nil},
	{0, "path-style", false, nil, func(o *options, _ string) error { o.addressing = "path"; return nil }, nil},
	{0, "virtual-hosted", false, nil, func(o *options, _ string) error { o.addressing = "virtual"; return nil }, nil},
	{0, "no-ssl", false, nil, func(o *options, _ string) error { o.noSSL = true; return nil }, nil},
	{'c', "concurrency", true, nil, func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fmt.Errorf("want a number from 1 to 1000")
		}
		o.concurrency = n
		return nil
	}, nil},
	{'s', "partsize", true, nil, func(o *options, v string) error {
		n, err := clikit.ParseSize(v)
		if err != nil || n == 0 {
			return fmt.Errorf("want a size in bytes such as 20971520 or 20MiB")
		}
		if n < 5<<20 || n > 5<<30 {
			return fmt.Errorf("want 5 MiB to 5 GiB (S3's limits)")
		}
		o.partSize = n
		return nil
	}, nil},
	{'m', "header", true, nil, func(o *options, v string) error {
		if !strings.Contains(v, ":") {
			return fmt.Errorf("want 'Name: value'")
		}
		o.headers = append(o.headers, v)
		return nil
	}, nil},
	{0, "acl", true, nil, func(o *options, v string) (err error) { o.acl, err = s3.ParseACL(v); return err }, nil},
	{0, "md5", false, nil, func(o *options, _ string) error { o.md5 = true; return nil }, nil},
	{0, "no-md5", false, nil, func(o *options, _ string) error { o.noMD5 = true; return nil }, nil},
	{0, "allow-unverified", false, nil, func(o *options, _ string) error { o.allowUnverified = true; return nil }, nil},
	{0, "sse", true, nil, func(o *options, v string) (err error) { o.sse, err = s3.ParseSSEMode(v); return err }, nil},
	{0, "sse-kms-key-id", true, nil, func(o *options, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("empty")
		}
		o.sseKMSKeyID = v
		return nil
	}, nil},
	{0, "sse-c-key-file", true, nil, func(o *options, v string) error { o.sseCKeyFile = v; return nil }, nil},
	{0, "object-lock-mode", true, nil, func(o *options, v string) (err error) { o.lockMode, err = s3.ParseLockMode(v); return err }, nil},
	{0, "object-lock-retain", true, nil, func(o *options, v string) (err error) { o.lockRetain, err = s3.ParseRetention(v); return err }, nil},
	// The codec's flags fall back to variables (codec.go).
	{0, "compress", true, []string{"GOF3R_COMPRESS"}, func(o *options, v string) error { o.compress = v; return nil }, nil},
	{0, "compress-level", true, []string{"GOF3R_COMPRESS_LEVEL"}, func(o *options, v string) error { o.compressLevel = v; return nil }, nil},
	{0, "encrypt-to", true, []string{"GOF3R_ENCRYPT_TO"}, func(o *options, v string) error { o.encryptTo = append(o.encryptTo, v); return nil }, nil},
	{0, "recipients-file", true, []string{"GOF3R_RECIPIENTS_FILE"}, func(o *options, v string) error { o.recipientsFile = v; return nil }, nil},
	{0, "passphrase-file", true, []string{"GOF3R_PASSPHRASE_FILE"}, func(o *options, v string) error { o.passphraseFile = v; return nil }, nil},
	{0, "identity", true, []string{"GOF3R_IDENTITY_FILE"}, func(o *options, v string) error { o.identity = v; return nil }, nil},
	{0, "raw", false, nil, func(o *options, _ string) error { o.raw = true; return nil }, nil},
	{0, "debug", false, nil, func(o *options, _ string) error { o.debug = true; return nil }, nil},
	{0, "progress", false, nil, func(o *options, _ string) error { o.progress = true; return nil }, nil},
	{0, "no-progress", false, nil, func(o *options, _ string) error { o.noProgress = true; return nil }, nil},
	{0, "retries", true, nil, func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return fmt.Errorf("want a number of tries from 1 to 100")
		}
		o.retries = n
		return nil
	}, nil},
	{0, "connect-timeout", true, nil, func(o *options, v string) error { return positive(&o.connectTimeout, v) }, nil},
	{0, "response-timeout", true, nil, func(o *options, v string) error { return positive(&o.responseTimeout, v) }, nil},
	{0, "stall-timeout", true, nil, func(o *options, v string) error { return positive(&o.stallTimeout, v) }, nil},
	// s3gof3r: inside get and rm, -v is the object's version; elsewhere
	// (and before the command) it prints gof3r's version.
	{'v', "versionId", true, nil, func(o *options, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("empty")
		}
		o.versionID = v
		return nil
	}, []string{"get", "rm"}},
	{'v', "version", false, nil, func(o *options, _ string) error { o.version = true; return nil }, nil},
	{'h', "help", false, nil, func(o *options, _ string) error { o.help = true; return nil }, nil},
}

func positive(p *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration such as 30s or 5m")
	}
	*p = d
	return nil
}

// flagValue is a flag whose spec checks and stores its value in o.
type flagValue struct {
	o    *options
	spec *flagSpec
}

func (v flagValue) Set(s string) error { return v.spec.apply(v.o, s) }
func (v flagValue) String() string     { return "" }
func (v flagValue) IsBoolFlag() bool   { return !v.spec.takesValue }

// define declares gof3r's flags for cmd ("" before the command).
func (o *options) define(fs *clikit.FlagSet, cmd string) {
	o.fs = fs
	for i := range flagSpecs {
		f := &flagSpecs[i]
		if f.cmds != nil && !slices.Contains(f.cmds, cmd) {
			continue
		}
		fs.Var(flagValue{o, f}, f.long, "", f.vars...)
		// -v is the version's only where it is not the object's version.
		if f.short != 0 && !(f.long == "version" && (cmd == "get" || cmd == "rm")) {
			fs.Short(f.short, f.long)
		}
	}
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
