package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

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
	args                                                              []string // positional
	set                                                               map[string]bool
}

type flagSpec struct {
	short, long string
	takesValue  bool
	apply       func(o *options, v string) error
	// cmds, when set, are the only commands that take the flag; another
	// spec may then use the same short name elsewhere (-v).
	cmds []string
}

var flagSpecs = []flagSpec{
	{short: "b", long: "bucket", takesValue: true, apply: func(o *options, v string) error { o.bucket = v; return nil }},
	{short: "k", long: "key", takesValue: true, apply: func(o *options, v string) error { o.key = v; return nil }},
	{short: "p", long: "path", takesValue: true, apply: func(o *options, v string) error { o.path = v; return nil }},
	{long: "endpoint", takesValue: true, apply: func(o *options, v string) error { o.endpoint = v; return nil }},
	{long: "region", takesValue: true, apply: func(o *options, v string) error { o.region = v; return nil }},
	{long: "addressing", takesValue: true, apply: func(o *options, v string) error {
		switch v {
		case "auto", "path", "virtual":
			o.addressing = v
			return nil
		}
		return fmt.Errorf("want auto, path or virtual")
	}},
	{long: "path-style", apply: func(o *options, _ string) error { o.addressing = "path"; return nil }},
	{long: "virtual-hosted", apply: func(o *options, _ string) error { o.addressing = "virtual"; return nil }},
	{long: "no-ssl", apply: func(o *options, _ string) error { o.noSSL = true; return nil }},
	{short: "c", long: "concurrency", takesValue: true, apply: func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fmt.Errorf("want a number from 1 to 1000")
		}
		o.concurrency = n
		return nil
	}},
	{short: "s", long: "partsize", takesValue: true, apply: func(o *options, v string) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		if n < 5<<20 || n > 5<<30 {
			return fmt.Errorf("want 5 MiB to 5 GiB (S3's limits)")
		}
		o.partSize = n
		return nil
	}},
	{short: "m", long: "header", takesValue: true, apply: func(o *options, v string) error {
		if !strings.Contains(v, ":") {
			return fmt.Errorf("want 'Name: value'")
		}
		o.headers = append(o.headers, v)
		return nil
	}},
	{long: "acl", takesValue: true, apply: func(o *options, v string) (err error) { o.acl, err = s3.ParseACL(v); return err }},
	{long: "md5", apply: func(o *options, _ string) error { o.md5 = true; return nil }},
	{long: "no-md5", apply: func(o *options, _ string) error { o.noMD5 = true; return nil }},
	{long: "allow-unverified", apply: func(o *options, _ string) error { o.allowUnverified = true; return nil }},
	{long: "sse", takesValue: true, apply: func(o *options, v string) (err error) { o.sse, err = s3.ParseSSEMode(v); return err }},
	{long: "sse-kms-key-id", takesValue: true, apply: func(o *options, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("empty")
		}
		o.sseKMSKeyID = v
		return nil
	}},
	{long: "sse-c-key-file", takesValue: true, apply: func(o *options, v string) error { o.sseCKeyFile = v; return nil }},
	{long: "object-lock-mode", takesValue: true, apply: func(o *options, v string) (err error) {
		o.lockMode, err = s3.ParseLockMode(v)
		return err
	}},
	{long: "object-lock-retain", takesValue: true, apply: func(o *options, v string) (err error) {
		o.lockRetain, err = s3.ParseRetention(v)
		return err
	}},
	{long: "compress", takesValue: true, apply: func(o *options, v string) error { o.compress = v; return nil }},
	{long: "compress-level", takesValue: true, apply: func(o *options, v string) error { o.compressLevel = v; return nil }},
	{long: "encrypt-to", takesValue: true, apply: func(o *options, v string) error { o.encryptTo = append(o.encryptTo, v); return nil }},
	{long: "recipients-file", takesValue: true, apply: func(o *options, v string) error { o.recipientsFile = v; return nil }},
	{long: "passphrase-file", takesValue: true, apply: func(o *options, v string) error { o.passphraseFile = v; return nil }},
	{long: "identity", takesValue: true, apply: func(o *options, v string) error { o.identity = v; return nil }},
	{long: "raw", apply: func(o *options, _ string) error { o.raw = true; return nil }},
	{long: "debug", apply: func(o *options, _ string) error { o.debug = true; return nil }},
	{long: "progress", apply: func(o *options, _ string) error { o.progress = true; return nil }},
	{long: "no-progress", apply: func(o *options, _ string) error { o.noProgress = true; return nil }},
	{long: "retries", takesValue: true, apply: func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return fmt.Errorf("want a number of tries from 1 to 100")
		}
		o.retries = n
		return nil
	}},
	{long: "connect-timeout", takesValue: true, apply: durationFlag(func(o *options) *time.Duration { return &o.connectTimeout })},
	{long: "response-timeout", takesValue: true, apply: durationFlag(func(o *options) *time.Duration { return &o.responseTimeout })},
	{long: "stall-timeout", takesValue: true, apply: durationFlag(func(o *options) *time.Duration { return &o.stallTimeout })},
	// s3gof3r: inside get and rm, -v is the object's version; elsewhere
	// (and before the command) it prints gof3r's version.
	{short: "v", long: "versionId", takesValue: true, cmds: []string{"get", "rm"}, apply: func(o *options, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("empty")
		}
		o.versionID = v
		return nil
	}},
	{short: "v", long: "version", apply: func(o *options, _ string) error { o.version = true; return nil }},
	{short: "h", long: "help", apply: func(o *options, _ string) error { o.help = true; return nil }},
}

// appliesTo says whether the spec is a flag of cmd ("" before the command).
func (f flagSpec) appliesTo(cmd string) bool {
	if f.cmds == nil {
		return true
	}
	for _, c := range f.cmds {
		if c == cmd {
			return true
		}
	}
	return false
}

// lookup finds the flag named name (long when long, else short) for cmd.
func lookup(cmd, name string, long bool) *flagSpec {
	for i := range flagSpecs {
		f := &flagSpecs[i]
		if !f.appliesTo(cmd) {
			continue
		}
		if (long && f.long == name) || (!long && f.short != "" && f.short == name) {
			return f
		}
	}
	return nil
}

func durationFlag(field func(*options) *time.Duration) func(*options, string) error {
	return func(o *options, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 30s or 5m")
		}
		*field(o) = d
		return nil
	}
}

// parseSize reads a byte count: 20971520, 20M, 20MiB, 1G (binary units).
func parseSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "IB"), "B")
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a size in bytes such as 20971520 or 20MiB")
	}
	return n * mult, nil
}

// parseFlags reads the flags before the command (global ones) and after it
// into one options. Flags and positional arguments may be mixed; "--"
// ends the flags.
func parseFlags(cmd string, before, after []string) (*options, error) {
	o := &options{set: map[string]bool{}}
	if err := o.parse("", before); err != nil {
		return nil, err
	}
	if err := o.parse(cmd, after); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *options) parse(cmd string, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.args = append(o.args, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			o.args = append(o.args, a)
			continue
		}
		var spec *flagSpec
		var value string
		hasValue := false
		if strings.HasPrefix(a, "--") {
			name, v, eq := strings.Cut(a[2:], "=")
			if spec = lookup(cmd, name, true); spec == nil {
				return fmt.Errorf("unknown flag --%s", name)
			}
			value, hasValue = v, eq
		} else {
			name := a[1:2]
			if spec = lookup(cmd, name, false); spec == nil {
				return fmt.Errorf("unknown flag -%s", name)
			}
			if len(a) > 2 {
				value, hasValue = strings.TrimPrefix(a[2:], "="), true
			}
		}
		flagName := "--" + spec.long
		if spec.short != "" {
			flagName = "-" + spec.short + "/--" + spec.long
		}
		if spec.takesValue && !hasValue {
			if i+1 >= len(args) {
				return fmt.Errorf("%s needs a value", flagName)
			}
			i++
			value = args[i]
		}
		if !spec.takesValue && hasValue {
			return fmt.Errorf("%s takes no value", flagName)
		}
		if err := spec.apply(o, value); err != nil {
			return fmt.Errorf("%s %q: %v", flagName, value, err)
		}
		o.set[spec.long] = true
	}
	return nil
}

// takesSeparateValue says whether flag word a, before the command, is
// followed by its value as the next word (-b bucket, --bucket bucket; not
// -bbucket or --bucket=b).
func takesSeparateValue(a string) bool {
	if strings.HasPrefix(a, "--") {
		f := lookup("", a[2:], true)
		return f != nil && f.takesValue
	}
	f := lookup("", a[1:], false)
	return len(a) == 2 && f != nil && f.takesValue
}
