// Package cli is the ep command line: kreuzwerker's `ep [-b] [-d] [-s] [-v]
// GLOB... [-- COMMAND ARGS...]`, plus the etcd source. It parses flags,
// builds the lookup chain, calls rewrite.Apply and execs the command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"cronbox/clikit"
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

var errHelp = clikit.ErrHelp
var errVersion = errors.New("version")

// parse reads kreuzwerker's command line (getopt style: -bdsv, -c NAME or
// -cNAME, --long, GLOB... [-- COMMAND ARGS...]) and the EP_* variables.
func parse(args []string, lookup clikit.Lookup) (*config, error) {
	c := &config{}
	var etcd, charsetName string
	var version bool
	// The usage text above documents the flags.
	fs := clikit.NewFlagSet("ep", lookup)
	fs.POSIX, fs.Interspersed = true, true
	fs.Bool(&c.opt.Backup, "backup", false, "")
	fs.Short('b', "backup")
	fs.Bool(&c.opt.DryRun, "dry-run", false, "")
	fs.Short('d', "dry-run")
	fs.Bool(&c.opt.Strict, "strict", false, "")
	fs.Short('s', "strict")
	fs.Bool(&c.verbose, "verbose", false, "")
	fs.Short('v', "verbose")
	fs.String(&c.opt.OutDir, "output-dir", "", "", "EP_OUTPUT_DIR")
	fs.String(&charsetName, "charset", "", "", "EP_CHARSET")
	fs.Short('c', "charset")
	fs.Needs("charset", "a charset name")
	fs.String(&etcd, "etcd", "", "", "EP_ETCD_ENDPOINTS")
	fs.String(&c.etcdPrefix, "etcd-prefix", "/cronbox/", "", "EP_ETCD_PREFIX")
	fs.Duration(&c.etcdTimeout, "etcd-timeout", 5*time.Second, "", "EP_ETCD_TIMEOUT")
	fs.Bool(&c.etcdWins, "etcd-wins", false, "", "EP_ETCD_WINS")
	fs.Bool(&version, "version", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if version {
		return nil, errVersion
	}
	if c.etcdTimeout <= 0 {
		from := fs.Quote("etcd-timeout")
		if fs.Given("etcd-timeout") {
			from = "flag " + from
		}
		return nil, clikit.Usagef("%s: want a positive duration such as 5s", from)
	}
	if c.etcd = clikit.ParseEndpoints(etcd); len(c.etcd) == 0 && fs.Given("etcd") {
		return nil, clikit.Usagef("flag --etcd: no endpoints given")
	}
	if fs.Given("output-dir") && c.opt.OutDir == "" {
		return nil, clikit.Usagef("flag --output-dir: empty directory name")
	}
	if charsetName != "" {
		enc, err := charset.Lookup(charsetName)
		if err != nil {
			from := fs.Origin("charset")
			if w := fs.Written("charset"); w != "" {
				from = "flag " + w
			}
			return nil, clikit.Usagef("%s: %v", from, err)
		}
		c.opt.Encode = enc.Encode
	}
	c.globs, c.command = fs.Args(), nil
	if d := fs.Dash(); d >= 0 {
		c.globs, c.command = fs.Args()[:d], fs.Args()[d:]
	}
	if len(c.globs) == 0 {
		return nil, clikit.Usagef("no file globs given (usage: ep [-b] [-d] [-s] [-v] GLOB... [-- COMMAND ARGS...])")
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
	// EP_* variables, like the templates' own, may come from NAME_FILE.
	vars := func(name string) (string, bool) { v, ok, _ := env.Lookup(name); return v.S, ok }
	c, err := parse(args, vars)
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
	level := "warn"
	if c.verbose {
		level = "info"
	}
	log, _ := clikit.NewLogger(stderr, "text", level)
	c.opt.Log, c.opt.Stdout = log, stdout

	// Find the command first, so a typo in it changes no file.
	runCommand := len(c.command) > 0 && !c.opt.DryRun
	path := ""
	if runCommand {
		if path, err = findCommand(c.command[0], pathOf(vars)); err != nil {
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

// pathOf is PATH as vars has it.
func pathOf(vars clikit.Lookup) string {
	p, _ := vars("PATH")
	return p
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
