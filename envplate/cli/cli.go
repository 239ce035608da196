// Package cli is the ep command line: kreuzwerker's `ep [-b] [-d] [-s] [-v]
// GLOB... [-- COMMAND ARGS...]`, plus the etcd source. It parses flags,
// builds the lookup chain, calls rewrite.Apply and execs the command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"cronbox/envplate/charset"
	"cronbox/envplate/rewrite"
	"cronbox/envplate/source"
	"cronbox/envplate/subst"
)

// Version is set at build time with -ldflags "-X cronbox/envplate/cli.Version=...".
var Version = "dev"

const usage = `usage: ep [-b] [-d] [-s] [-v] [-c CHARSET] [--output-dir DIR] [--etcd ENDPOINTS] GLOB... [-- COMMAND ARGS...]

Renders ${VAR} references in every file the globs match, in place (or into
DIR), then execs COMMAND. All files are resolved first; any error changes none.

  -b, --backup        keep the original of each changed file as FILE.bak
  -d, --dry-run       print the rendered files to stdout; change nothing, exec nothing
  -s, --strict        refuse defaults and empty values
  -v, --verbose       log each file and where its values came from (never the values)
  --output-dir DIR    render into DIR/NAME for each matched NAME instead of in place;
                      two files with one name are refused (env EP_OUTPUT_DIR)
  -c, --charset NAME  write values in the files' charset (ISO-8859-1, Windows-1252, KOI8-R,
                      ...: UTF-8, US-ASCII or a single-byte charset; env EP_CHARSET);
                      a value the charset cannot write is an error
  --etcd ENDPOINTS    also take variables from etcd keys under --etcd-prefix
                      (comma-separated; env EP_ETCD_ENDPOINTS)
  --etcd-prefix P     key prefix, P+"NAME" supplies NAME (default /cronbox/; env EP_ETCD_PREFIX)
  --etcd-timeout D    dial and read timeout (default 5s; env EP_ETCD_TIMEOUT)
  --etcd-wins         etcd's value wins over the environment's (env EP_ETCD_WINS=true)
  -h, --help          this text
  --version           print the version

Syntax: ${VAR}  ${VAR:-default}  ${VAR-default}  ${VAR:?message}  ${VAR?message},
nested in defaults. \${ is a literal ${. A bare $VAR is left alone.
NAME_FILE=path supplies NAME from the file (one trailing newline dropped).
`

type config struct {
	opt         rewrite.Options
	verbose     bool
	globs       []string
	command     []string
	etcd        []string
	etcdPrefix  string
	etcdTimeout time.Duration
	etcdWins    bool
}

// usageError is a bad command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

var errHelp = errors.New("help")
var errVersion = errors.New("version")

func parse(args []string, getenv func(string) string) (*config, error) {
	c := &config{etcdPrefix: "/cronbox/", etcdTimeout: 5 * time.Second}
	if v := getenv("EP_ETCD_ENDPOINTS"); v != "" {
		c.etcd = source.SplitEndpoints(v)
	}
	setCharset := func(from, name string) error {
		enc, err := charset.Lookup(name)
		if err != nil {
			return &usageError{fmt.Sprintf("%s: %v", from, err)}
		}
		c.opt.Encode = enc.Encode
		return nil
	}
	if v := getenv("EP_CHARSET"); v != "" {
		if err := setCharset("EP_CHARSET", v); err != nil {
			return nil, err
		}
	}
	c.opt.OutDir = getenv("EP_OUTPUT_DIR")
	if v := getenv("EP_ETCD_PREFIX"); v != "" {
		c.etcdPrefix = v
	}
	if v := getenv("EP_ETCD_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, &usageError{fmt.Sprintf("EP_ETCD_TIMEOUT=%q: want a positive duration such as 5s", v)}
		}
		c.etcdTimeout = d
	}
	switch v := getenv("EP_ETCD_WINS"); v {
	case "", "false", "0":
	case "true", "1":
		c.etcdWins = true
	default:
		return nil, &usageError{fmt.Sprintf("EP_ETCD_WINS=%q: want true or false", v)}
	}

	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			c.command = args[i+1:]
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			c.globs = append(c.globs, a)
			continue
		}
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			value := func() (string, error) {
				if hasVal {
					return val, nil
				}
				if i+1 >= len(args) || args[i+1] == "--" {
					return "", &usageError{fmt.Sprintf("flag --%s needs a value", name)}
				}
				i++
				return args[i], nil
			}
			noValue := func() error {
				if hasVal {
					return &usageError{fmt.Sprintf("flag --%s takes no value", name)}
				}
				return nil
			}
			var err error
			switch name {
			case "backup":
				c.opt.Backup, err = true, noValue()
			case "dry-run":
				c.opt.DryRun, err = true, noValue()
			case "strict":
				c.opt.Strict, err = true, noValue()
			case "verbose":
				c.verbose, err = true, noValue()
			case "etcd-wins":
				c.etcdWins, err = true, noValue()
			case "help":
				return nil, errHelp
			case "version":
				return nil, errVersion
			case "etcd":
				var v string
				if v, err = value(); err == nil {
					if c.etcd = source.SplitEndpoints(v); len(c.etcd) == 0 {
						err = &usageError{"flag --etcd: no endpoints given"}
					}
				}
			case "etcd-prefix":
				c.etcdPrefix, err = value()
			case "output-dir":
				if c.opt.OutDir, err = value(); err == nil && c.opt.OutDir == "" {
					err = &usageError{"flag --output-dir: empty directory name"}
				}
			case "charset":
				var v string
				if v, err = value(); err == nil {
					err = setCharset("flag --charset", v)
				}
			case "etcd-timeout":
				var v string
				if v, err = value(); err == nil {
					if c.etcdTimeout, err = time.ParseDuration(v); err != nil || c.etcdTimeout <= 0 {
						err = &usageError{fmt.Sprintf("flag --etcd-timeout %q: want a positive duration such as 5s", v)}
					}
				}
			default:
				err = &usageError{fmt.Sprintf("unknown flag --%s", name)}
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		// Short flags, combinable as in kreuzwerker's ep (-bv); -c takes
		// the rest of its word or the next argument (-clatin1, -c latin1).
		for j, r := range a[1:] {
			if r == 'c' {
				v := a[2+j:]
				if v == "" {
					if i+1 >= len(args) || args[i+1] == "--" {
						return nil, &usageError{"flag -c needs a charset name"}
					}
					i++
					v = args[i]
				}
				if err := setCharset("flag -c", v); err != nil {
					return nil, err
				}
				break
			}
			switch r {
			case 'b':
				c.opt.Backup = true
			case 'd':
				c.opt.DryRun = true
			case 's':
				c.opt.Strict = true
			case 'v':
				c.verbose = true
			case 'h':
				return nil, errHelp
			default:
				return nil, &usageError{fmt.Sprintf("unknown flag -%c in %q", r, a)}
			}
		}
	}
	if len(c.globs) == 0 {
		return nil, &usageError{"no file globs given (usage: ep [-b] [-d] [-s] [-v] GLOB... [-- COMMAND ARGS...])"}
	}
	return c, nil
}

// Main runs ep with args (without the program name) and returns the exit
// status; when a command follows "--" and the files were rendered, it does
// not return: the command replaces ep.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return run(ctx, args, os.Environ(), os.Stdout, os.Stderr, func(path string, argv, env []string) error {
		stop() // the command gets default signal handling
		return syscall.Exec(path, argv, env)
	})
}

type execFunc func(path string, argv, env []string) error

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer, execve execFunc) int {
	env := source.NewEnv(environ)
	getenv := func(name string) string { v, _, _ := env.Lookup(name); return v.S }
	c, err := parse(args, getenv)
	switch {
	case errors.Is(err, errHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.Is(err, errVersion):
		fmt.Fprintln(stdout, "ep", Version)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "ep: %v\n", err)
		return 2
	}
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	c.opt.Log, c.opt.Stdout = log, stdout

	// Find the command first, so a typo in it changes no file.
	runCommand := len(c.command) > 0 && !c.opt.DryRun
	path := ""
	if runCommand {
		if path, err = findCommand(c.command[0], getenv("PATH")); err != nil {
			fmt.Fprintf(stderr, "ep: command %q: %v (no file was changed)\n", c.command[0], err)
			return 2
		}
	}

	var lookup subst.Lookup = env
	if len(c.etcd) > 0 {
		log.Info("reading variables from etcd", "endpoints", strings.Join(c.etcd, ","), "prefix", c.etcdPrefix, "timeout", c.etcdTimeout)
		m, err := source.LoadEtcd(ctx, log, c.etcd, c.etcdPrefix, c.etcdTimeout)
		if err != nil {
			fmt.Fprintf(stderr, "ep: %v\n", err)
			return 1
		}
		lookup = source.First{env, m}
		if c.etcdWins {
			lookup = source.First{m, env}
		}
	}

	if err := rewrite.Apply(ctx, c.globs, lookup, c.opt); err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		if configOnly(err) {
			fmt.Fprintf(stderr, "ep: %s (no file was changed)\n", msg)
			return 2
		}
		fmt.Fprintf(stderr, "ep: %s\n", msg)
		return 1
	}
	if !runCommand {
		return 0
	}
	err = execve(path, c.command, environ)
	fmt.Fprintf(stderr, "ep: files rendered, but exec %s: %v\n", path, err)
	return 1
}

// findCommand finds what exec would run: a name with a slash as the path it
// is (relative to the working directory), a bare name in PATH, looked up in
// the environment ep was given, as the shell would.
func findCommand(name, pathEnv string) (string, error) {
	if strings.Contains(name, "/") {
		return name, executable(name)
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		if p := dir + "/" + name; executable(p) == nil {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// executable reports why exec(2) would refuse path: missing, not a regular
// file, or not executable by this process.
func executable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return errors.Unwrap(err) // the *PathError's path is in the message already
	}
	switch {
	case st.IsDir():
		return errors.New("is a directory")
	case !st.Mode().IsRegular():
		return errors.New("not a regular file")
	}
	if err := syscall.Access(path, 1 /* X_OK */); err != nil {
		return fmt.Errorf("not executable: %w", err)
	}
	return nil
}

// configOnly reports whether every failure in err is one the user fixes in
// the templates, globs or environment.
func configOnly(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !configOnly(e) {
				return false
			}
		}
		return true
	}
	var ce *rewrite.ConfigError
	return errors.As(err, &ce)
}
