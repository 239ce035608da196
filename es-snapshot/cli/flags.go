package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cronbox/clikit"
	"cronbox/es-snapshot/esclient"
	"cronbox/es-snapshot/snapshot"
)

// options are one command's flags beyond the connection's: define
// declares them, check reads them once parsed (with the positional
// arguments) and says what is wrong before anything is contacted, run does
// the command's work.
type options interface {
	define(fs *clikit.FlagSet)
	check(fs *clikit.FlagSet, args []string) error
	run(ctx context.Context, r *snapshot.Runner, env Env) error
}

// command is what every command shares: its flags (the connection's first),
// their parsing and checks, the deadline of the whole command (timeout
// its default), and the client; then the command's run.
func command(synopsis string, timeout time.Duration, newOptions func() options) func(context.Context, []string, Env) error {
	return func(ctx context.Context, args []string, env Env) error {
		o := newOptions()
		fs := clikit.NewFlagSet("es-snapshot", clikit.Getenv(env.Getenv))
		fs.Interspersed, fs.Hint = true, " (see es-snapshot --help)"
		if env.check != nil {
			env.check.fs = fs
		}
		var c conn
		c.define(fs, timeout)
		o.define(fs)
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, clikit.ErrHelp) {
				fmt.Fprintf(env.Stdout, "usage: es-snapshot %s\n\nflags (environment variables in brackets):\n", synopsis)
				fs.PrintDefaults(env.Stdout)
			}
			return err
		}
		if err := c.check(fs); err != nil {
			return err
		}
		if err := o.check(fs, fs.Args()); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		r, err := c.client(ctx, env)
		if err != nil {
			return err
		}
		return o.run(ctx, r, env)
	}
}

// age is a duration flag's value that also takes days ("30d", "36h",
// "1h30m"): negative durations are refused, and zero too unless zeroOK.
type age struct {
	d      *time.Duration
	zeroOK bool
}

func (a age) String() string {
	if a.d == nil || *a.d == 0 {
		return "0"
	}
	return a.d.String()
}

func (a age) Set(s string) error {
	d, err := clikit.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("want a duration such as 30d, 12h or 90m")
	case d < 0:
		return errors.New("must not be negative")
	case d == 0 && !a.zeroOK:
		return errors.New("must be positive")
	}
	*a.d = d
	return nil
}

// duration defines a duration flag; zeroOK says whether 0 means something
// (such as "no limit") or is refused like a negative one.
func duration(fs *clikit.FlagSet, p *time.Duration, name string, def time.Duration, zeroOK bool, help string, vars ...string) {
	*p = def
	fs.Var(age{p, zeroOK}, name, help, vars...)
}

// conn is the connection every command needs.
type conn struct {
	url, user, password, apiKey, caFile string
	passwordFile, apiKeyFile            string
	insecure, verbose                   bool
	requestTimeout, timeout             time.Duration
}

func (c *conn) define(fs *clikit.FlagSet, defaultTimeout time.Duration) {
	fs.String(&c.url, "url", "http://localhost:9200", "the server's URL", "ES_HOST_URL", "ES_URL")
	fs.Secret(&c.user, "user", "basic auth username", "ES_USERNAME")
	fs.Secret(&c.password, "password", "basic auth password (prefer the environment or --password-file: flags show in ps)", "ES_PASSWORD")
	fs.String(&c.passwordFile, "password-file", "", "read the basic auth password from this file")
	fs.Secret(&c.apiKey, "api-key", "API key, the base64 id:key form (prefer the environment or --api-key-file)", "ES_API_KEY")
	fs.String(&c.apiKeyFile, "api-key-file", "", "read the API key from this file")
	fs.String(&c.caFile, "ca-file", "", "PEM file with the CA(s) that signed the server's certificate", "ES_CA_FILE")
	fs.Bool(&c.insecure, "insecure-skip-verify", false, "do NOT verify the server's TLS certificate (logged loudly)", "ES_INSECURE_SKIP_VERIFY")
	duration(fs, &c.requestTimeout, "request-timeout", time.Minute, false, "deadline of each HTTP request", "ES_REQUEST_TIMEOUT")
	duration(fs, &c.timeout, "timeout", defaultTimeout, false, "deadline of the whole command (polls and retries included)", "ES_TIMEOUT")
	fs.Bool(&c.verbose, "verbose", false, "log every request", "ES_VERBOSE")
}

// check refuses a URL that is not one, and reads the secret files.
func (c *conn) check(fs *clikit.FlagSet) error {
	if err := esclient.CheckURL(c.url); err != nil {
		return usagef("%s: %v", fs.Origin("url"), err)
	}
	for _, f := range []struct {
		flag, file string
		into       *string
	}{{"password-file", c.passwordFile, &c.password}, {"api-key-file", c.apiKeyFile, &c.apiKey}} {
		if f.file == "" {
			continue
		}
		v, err := clikit.ReadSecretFile(f.file)
		if err != nil {
			return usagef("--%s: %v", f.flag, err)
		}
		*f.into = v
	}
	return nil
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

// repository is the --repository flag of the commands that need one.
type repository struct{ name string }

func (r *repository) define(fs *clikit.FlagSet) {
	fs.String(&r.name, "repository", "", "the snapshot repository (required)", "ES_REPOSITORY")
}

func (r *repository) check(fs *clikit.FlagSet) error {
	switch {
	case r.name == "":
		return usagef("no repository: set --repository or ES_REPOSITORY")
	case strings.HasPrefix(r.name, "_") || strings.ContainsAny(r.name, ` ,"*\/<>|?#`):
		return usagef(`%s: repository %q: a name must not start with _ nor contain spaces or any of , " * \ / < > | ? #`, fs.Origin("repository"), r.name)
	}
	return nil
}

// naming flags shared by create, prune and restore: which snapshots are
// the job's.
type naming struct {
	name, pattern string
	namer         *snapshot.Namer
}

func (n *naming) define(fs *clikit.FlagSet) {
	fs.String(&n.name, "name", "snapshot", "the name part of snapshot names ({name} in the pattern)", "ES_SNAPSHOTNAME")
	fs.String(&n.pattern, "pattern", snapshot.DefaultPattern, "snapshot name pattern, in UTC: %Y %m %d %H %M %S {name}; prune and restore touch only names it matches", "ES_SNAPSHOT_PATTERN")
}

func (n *naming) check() error {
	nm, err := snapshot.NewNamer(n.pattern, n.name)
	if err != nil {
		return usagef("%v", err)
	}
	n.namer = nm
	return nil
}
