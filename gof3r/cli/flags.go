package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"
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
	args                                            []string // positional
	set                                             map[string]bool
}

type flagSpec struct {
	short, long string
	takesValue  bool
	apply       func(o *options, v string) error
}

var flagSpecs = []flagSpec{
	{"b", "bucket", true, func(o *options, v string) error { o.bucket = v; return nil }},
	{"k", "key", true, func(o *options, v string) error { o.key = v; return nil }},
	{"p", "path", true, func(o *options, v string) error { o.path = v; return nil }},
	{"", "endpoint", true, func(o *options, v string) error { o.endpoint = v; return nil }},
	{"", "region", true, func(o *options, v string) error { o.region = v; return nil }},
	{"", "addressing", true, func(o *options, v string) error {
		switch v {
		case "auto", "path", "virtual":
			o.addressing = v
			return nil
		}
		return fmt.Errorf("want auto, path or virtual")
	}},
	{"", "path-style", false, func(o *options, _ string) error { o.addressing = "path"; return nil }},
	{"", "virtual-hosted", false, func(o *options, _ string) error { o.addressing = "virtual"; return nil }},
	{"", "no-ssl", false, func(o *options, _ string) error { o.noSSL = true; return nil }},
	{"c", "concurrency", true, func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fmt.Errorf("want a number from 1 to 1000")
		}
		o.concurrency = n
		return nil
	}},
	{"s", "partsize", true, func(o *options, v string) error {
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
	{"m", "header", true, func(o *options, v string) error {
		if !strings.Contains(v, ":") {
			return fmt.Errorf("want 'Name: value'")
		}
		o.headers = append(o.headers, v)
		return nil
	}},
	{"", "md5", false, func(o *options, _ string) error { o.md5 = true; return nil }},
	{"", "no-md5", false, func(o *options, _ string) error { o.noMD5 = true; return nil }},
	{"", "allow-unverified", false, func(o *options, _ string) error { o.allowUnverified = true; return nil }},
	{"", "debug", false, func(o *options, _ string) error { o.debug = true; return nil }},
	{"", "progress", false, func(o *options, _ string) error { o.progress = true; return nil }},
	{"", "no-progress", false, func(o *options, _ string) error { o.noProgress = true; return nil }},
	{"", "retries", true, func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return fmt.Errorf("want a number of tries from 1 to 100")
		}
		o.retries = n
		return nil
	}},
	{"", "connect-timeout", true, durationFlag(func(o *options) *time.Duration { return &o.connectTimeout })},
	{"", "response-timeout", true, durationFlag(func(o *options) *time.Duration { return &o.responseTimeout })},
	{"", "stall-timeout", true, durationFlag(func(o *options) *time.Duration { return &o.stallTimeout })},
	{"v", "version", false, func(o *options, _ string) error { o.version = true; return nil }},
	{"h", "help", false, func(o *options, _ string) error { o.help = true; return nil }},
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

// parseFlags reads args (after the command). Flags and positional
// arguments may be mixed; "--" ends the flags.
func parseFlags(args []string) (*options, error) {
	o := &options{set: map[string]bool{}}
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
			for j := range flagSpecs {
				if flagSpecs[j].long == name {
					spec = &flagSpecs[j]
				}
			}
			if spec == nil {
				return nil, fmt.Errorf("unknown flag --%s", name)
			}
			value, hasValue = v, eq
		} else {
			name := a[1:2]
			for j := range flagSpecs {
				if flagSpecs[j].short == name {
					spec = &flagSpecs[j]
				}
			}
			if spec == nil {
				return nil, fmt.Errorf("unknown flag -%s", name)
			}
			if len(a) > 2 {
				value, hasValue = strings.TrimPrefix(a[2:], "="), true
			}
		}
		flagName := "--" + spec.long
		if spec.takesValue && !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value", flagName)
			}
			i++
			value = args[i]
		}
		if !spec.takesValue && hasValue {
			return nil, fmt.Errorf("%s takes no value", flagName)
		}
		if err := spec.apply(o, value); err != nil {
			return nil, fmt.Errorf("%s %q: %v", flagName, value, err)
		}
		o.set[spec.long] = true
	}
	return o, nil
}

// takesSeparateValue says whether flag word a is followed by its value as
// the next word (-b bucket, --bucket bucket; not -bbucket or --bucket=b).
func takesSeparateValue(a string) bool {
	for _, f := range flagSpecs {
		if !f.takesValue {
			continue
		}
		if a == "--"+f.long || (f.short != "" && a == "-"+f.short) {
			return true
		}
	}
	return false
}
