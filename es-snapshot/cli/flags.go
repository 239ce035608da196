package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/es-snapshot/snapshot"
)

// flagSet wraps flag.FlagSet so that every flag may come from an
// environment variable; a malformed variable is a usage error naming it.
type flagSet struct {
	*flag.FlagSet
	env       Env
	errs      []error
	postParse []func() error
	synopsis  string
	from      map[string]string // flag name -> the variable that set it
}

func newFlagSet(name string, env Env, synopsis string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), env: env, from: map[string]string{}}
	if env.check != nil {
		env.check.fs = fs
	}
	// The flag package's own messages and usage go nowhere: a mistake is
	// one line (parse), --help prints the usage to stdout.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.synopsis = synopsis

	return fs
}

// lookup returns the first set variable of names (a NAME_FILE variant is
// read from its file when secret).
func (fs *flagSet) lookup(secret bool, names ...string) (string, string, bool) {
	for _, n := range names {
		if n == "" {
			continue
		}
		if secret {
			if p := fs.env.Getenv(n + "_FILE"); p != "" {
				if fs.env.Getenv(n) != "" {
					fs.errs = append(fs.errs, usagef("%s and %s_FILE are both set: set only one", n, n))
					return "", n + "_FILE", false
				}
				b, err := os.ReadFile(p)
				if err != nil {
					fs.errs = append(fs.errs, usagef("%s_FILE: %v", n, err))
					return "", n + "_FILE", false
				}
				return strings.TrimRight(string(b), "\r\n"), n + "_FILE", true
			}
		}
		if v := fs.env.Getenv(n); v != "" {
			return v, n, true
		}
	}
	return "", "", false
}

// origin names where a flag's value came from, for messages: its variable,
// or the flag.
func (fs *flagSet) origin(name string) string {
	if v, ok := fs.from[name]; ok && !fs.given(name) {
		return v
	}
	return "--" + name
}

func (fs *flagSet) given(name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func envDoc(names []string, secret bool) string {
	var parts []string
	for _, n := range names {
		if n == "" {
			continue
		}
		parts = append(parts, "$"+n)
		if secret {
			parts = append(parts, "$"+n+"_FILE")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, ", ") + "]"
}

func (fs *flagSet) str(p *string, name, def, doc string, vars ...string) {
	fs.strX(p, name, def, doc, false, vars...)
}

func (fs *flagSet) secret(p *string, name, doc string, vars ...string) {
	fs.strX(p, name, "", doc, true, vars...)
}

func (fs *flagSet) strX(p *string, name, def, doc string, secret bool, vars ...string) {
	v, from, ok := fs.lookup(secret, vars...)
	if ok {
		fs.from[name] = from
	}
	if secret {
		// Registered with an empty default so --help never prints a secret.
		fs.StringVar(p, name, "", doc+envDoc(vars, true))
		if ok {
			*p = v
		}
		return
	}
	if ok {
		def = v
	}
	fs.StringVar(p, name, def, doc+envDoc(vars, false))
}

func (fs *flagSet) boolean(p *bool, name string, def bool, doc string, vars ...string) {
	if v, from, ok := fs.lookup(false, vars...); ok {
		fs.from[name] = from
		b, err := strconv.ParseBool(v)
		if err != nil {
			fs.errs = append(fs.errs, usagef("%s=%q: not a boolean (true/false)", from, v))
		} else {
			def = b
		}
	}
	fs.BoolVar(p, name, def, doc+envDoc(vars, false))
}

func (fs *flagSet) integer(p *int, name string, def int, doc string, vars ...string) {
	if v, from, ok := fs.lookup(false, vars...); ok {
		fs.from[name] = from
		n, err := strconv.Atoi(v)
		if err != nil {
			fs.errs = append(fs.errs, usagef("%s=%q: not an integer", from, v))
		} else {
			def = n
		}
	}
	fs.IntVar(p, name, def, doc+envDoc(vars, false))
}

// age is a duration that also takes days: "30d", "36h", "1h30m". Negative
// durations are refused, and zero too unless zeroOK.
type age struct {
	d      *time.Duration
	zeroOK bool
}

func (a age) check(d time.Duration) error {
	switch {
	case d < 0:
		return errors.New("must not be negative")
	case d == 0 && !a.zeroOK:
		return errors.New("must be positive")
	}
	return nil
}

func (a age) String() string {
	if a.d == nil || *a.d == 0 {
		return "0"
	}
	return a.d.String()
}

func (a age) Set(s string) error {
	d, err := parseAge(s)
	if err != nil {
		return err
	}
	if err := a.check(d); err != nil {
		return err
	}
	*a.d = d
	return nil
}

func parseAge(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 30d, 12h or 90m", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 30d, 12h or 90m", s)
	}
	return d, nil
}

// duration registers a duration flag; zeroOK says whether 0 means something
// (such as "no limit") or is refused like a negative one.
func (fs *flagSet) duration(p *time.Duration, name string, def time.Duration, zeroOK bool, doc string, vars ...string) {
	*p = def
	a := age{p, zeroOK}
	if v, from, ok := fs.lookup(false, vars...); ok {
		fs.from[name] = from
		d, err := parseAge(v)
		if err == nil {
			if cerr := a.check(d); cerr != nil {
				err = fmt.Errorf("%q: %v", v, cerr)
			}
		}
		if err != nil {
			fs.errs = append(fs.errs, usagef("%s: %v", from, err))
		} else {
			*p = d
		}
	}
	fs.Var(a, name, doc+envDoc(vars, false))
}

// parse parses args and reports the first problem as a usage error.
func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			out := fs.env.Stdout
			fmt.Fprintf(out, "usage: es-snapshot %s\n\nflags (environment variable in brackets):\n", fs.synopsis)
			fs.SetOutput(out)
			fs.PrintDefaults()
			return errHelp
		}
		return usagef("%v (see es-snapshot --help)", err)
	}
	if len(fs.errs) > 0 {
		return fs.errs[0]
	}
	for _, f := range fs.postParse {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// conn is the connection every command needs.
type conn struct {
	url, user, password, apiKey, caFile string
	insecure, verbose                   bool
	requestTimeout, timeout             time.Duration
}

func (fs *flagSet) connFlags(c *conn, defaultTimeout time.Duration) {
	fs.str(&c.url, "url", "http://localhost:9200", "the server's URL", "ES_HOST_URL", "ES_URL")
	fs.secret(&c.user, "user", "basic auth username", "ES_USERNAME")
	fs.secret(&c.password, "password", "basic auth password (prefer the environment or --password-file: flags show in ps)", "ES_PASSWORD")
	var pwFile, keyFile string
	fs.StringVar(&pwFile, "password-file", "", "read the basic auth password from this file")
	fs.secret(&c.apiKey, "api-key", "API key, the base64 id:key form (prefer the environment or --api-key-file)", "ES_API_KEY")
	fs.StringVar(&keyFile, "api-key-file", "", "read the API key from this file")
	fs.str(&c.caFile, "ca-file", "", "PEM file with the CA(s) that signed the server's certificate", "ES_CA_FILE")
	fs.boolean(&c.insecure, "insecure-skip-verify", false, "do NOT verify the server's TLS certificate (logged loudly)", "ES_INSECURE_SKIP_VERIFY")
	fs.duration(&c.requestTimeout, "request-timeout", time.Minute, false, "deadline of each HTTP request", "ES_REQUEST_TIMEOUT")
	fs.duration(&c.timeout, "timeout", defaultTimeout, false, "deadline of the whole command (polls and retries included)", "ES_TIMEOUT")
	fs.boolean(&c.verbose, "verbose", false, "log every request", "ES_VERBOSE")
	fs.postParse = append(fs.postParse, func() error {
		if err := esclient.CheckURL(c.url); err != nil {
			return usagef("%s: %v", fs.origin("url"), err)
		}
		for _, f := range []struct{ file, into *string }{{&pwFile, &c.password}, {&keyFile, &c.apiKey}} {
			if *f.file == "" {
				continue
			}
			b, err := os.ReadFile(*f.file)
			if err != nil {
				return usagef("%v", err)
			}
			*f.into = strings.TrimRight(string(b), "\r\n")
		}
		return nil
	})
}

// client connects to the server and asks what it is.
func (c *conn) client(ctx context.Context, env Env) (*snapshot.Runner, error) {
	log := newLogger(env.Stderr, c.verbose)
	cl, err := esclient.New(esclient.Config{
		URL: c.url, Username: c.user, Password: c.password, APIKey: c.apiKey,
		CAFile: c.caFile, InsecureSkipVerify: c.insecure, RequestTimeout: c.requestTimeout, Logger: log,
	})
	if err != nil {
		return nil, usagef("%v", err)
	}
	if env.check != nil {
		return nil, env.check.stop(cl)
	}
	v, err := cl.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reach %s: %w", cl.Host(), err)
	}
	if !v.Supported() {
		log.Warn("server version not in the tested range (Elasticsearch 7-9, OpenSearch 1-3); going on", "server", v.String())
	}
	log.Debug("server", "url", cl.Host(), "version", v.String())
	return &snapshot.Runner{Client: cl, Version: v, Log: log, Progress: env.Stderr}, nil
}

// naming flags shared by create, prune and restore.
type naming struct{ name, pattern string }

func (fs *flagSet) namingFlags(n *naming) {
	fs.str(&n.name, "name", "snapshot", "the name part of snapshot names ({name} in the pattern)", "ES_SNAPSHOTNAME")
	fs.str(&n.pattern, "pattern", snapshot.DefaultPattern, "snapshot name pattern, in UTC: %Y %m %d %H %M %S {name}; prune and restore touch only names it matches", "ES_SNAPSHOT_PATTERN")
}

func (n naming) namer() (*snapshot.Namer, error) {
	nm, err := snapshot.NewNamer(n.pattern, n.name)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return nm, nil
}

func (fs *flagSet) repoFlag(p *string) {
	fs.str(p, "repository", "", "the snapshot repository (required)", "ES_REPOSITORY")
	fs.postParse = append(fs.postParse, func() error {
		if err := needRepo(*p); err != nil && *p != "" {
			return usagef("%s: %v", fs.origin("repository"), err)
		}
		return nil
	})
}

func needRepo(repo string) error {
	switch {
	case repo == "":
		return usagef("no repository: set --repository or ES_REPOSITORY")
	case strings.HasPrefix(repo, "_") || strings.ContainsAny(repo, ` ,"*\/<>|?#`):
		return usagef(`repository %q: a name must not start with _ nor contain spaces or any of , " * \ / < > | ? #`, repo)
	}
	return nil
}
