package clikit

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type opts struct {
	sched, url, pw string
	once, verbose  bool
	count          int
	timeout        time.Duration
	part           int64
}

func goStyle(environ ...string) (*FlagSet, *opts) {
	o := &opts{}
	fs := NewFlagSet("t", Environ(environ))
	fs.String(&o.sched, "s", "", "schedule")
	fs.String(&o.url, "url", "http://localhost", "url", "T_URL", "OLD_URL")
	fs.Secret(&o.pw, "password", "password", "T_PASSWORD")
	fs.Bool(&o.once, "once", false, "once", "T_ONCE")
	fs.Int(&o.count, "count", 3, "count", "T_COUNT")
	fs.Duration(&o.timeout, "timeout", 10*time.Second, "timeout", "T_TIMEOUT")
	fs.Size(&o.part, "part-size", 5<<20, "part size", "T_PART")
	return fs, o
}

func TestGoStyle(t *testing.T) {
	fs, o := goStyle()
	if err := fs.Parse([]string{"-s", "@hourly", "--once", "-count=5", "--timeout", "-2s", "--part-size=8M", "cmd", "--once"}); err != nil {
		t.Fatal(err)
	}
	if o.sched != "@hourly" || !o.once || o.count != 5 || o.timeout != -2*time.Second || o.part != 8<<20 || o.url != "http://localhost" {
		t.Errorf("%+v", o)
	}
	if !slices.Equal(fs.Args(), []string{"cmd", "--once"}) || fs.Dash() != -1 {
		t.Errorf("args %q dash %d: the first positional argument ends the flags", fs.Args(), fs.Dash())
	}
	if err := fs.NonNegative("count", "timeout"); err == nil || err.Error() != "--timeout -2s: must not be negative" || !IsUsage(err) {
		t.Errorf("NonNegative: %v", err)
	}
	fs, _ = goStyle()
	if err := fs.Parse([]string{"--once=false", "--", "cmd"}); err != nil || fs.Dash() != 0 || !slices.Equal(fs.Args(), []string{"cmd"}) {
		t.Errorf("--: %v %d %q", err, fs.Dash(), fs.Args())
	}
}

func TestEnvironmentFallback(t *testing.T) {
	fs, o := goStyle("OLD_URL=http://old", "T_COUNT=7", "T_TIMEOUT=2d", "T_ONCE=1", "T_URL=", "T_COUNT=9")
	if err := fs.Parse([]string{"--once=false"}); err != nil {
		t.Fatal(err)
	}
	if o.url != "http://old" || o.count != 9 || o.timeout != 48*time.Hour || o.once {
		t.Errorf("%+v: want the first set variable, the last entry of a name, the flag before the variable", o)
	}
	if fs.Origin("url") != "OLD_URL" || fs.Origin("once") != "--once" || fs.Quote("count") != `T_COUNT="9"` || fs.Quote("once") != `--once "false"` {
		t.Errorf("origins: %s %s %s %s", fs.Origin("url"), fs.Origin("once"), fs.Quote("count"), fs.Quote("once"))
	}
	if fs.Value("count") != "9" || fs.Value("timeout") != "48h0m0s" || fs.Value("nope") != "" {
		t.Errorf("values: %q %q", fs.Value("count"), fs.Value("timeout"))
	}
	if m := fs.FromEnv(); len(m) != 3 || m["timeout"] != "T_TIMEOUT" || fs.From("once") != "" || !fs.Given("once") {
		t.Errorf("FromEnv %v", m)
	}
	fs, _ = goStyle("T_TIMEOUT=-1s")
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := fs.NonNegative("timeout"); err == nil || err.Error() != "T_TIMEOUT=-1s: must not be negative" {
		t.Errorf("NonNegative: %v", err)
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	os.WriteFile(file, []byte("hunter2\r\n"), 0o600)
	fs, o := goStyle("T_PASSWORD_FILE=" + file)
	if err := fs.Parse(nil); err != nil || o.pw != "hunter2" || fs.Origin("password") != "T_PASSWORD_FILE" {
		t.Errorf("%v %q %s", err, o.pw, fs.Origin("password"))
	}
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"T_PASSWORD=x", "T_PASSWORD_FILE=" + file}, nil, "T_PASSWORD and T_PASSWORD_FILE: give one of them"},
		{[]string{"T_PASSWORD_FILE=" + file}, []string{"--password", "x"}, "--password and T_PASSWORD_FILE: give one of them"},
		{[]string{"T_PASSWORD_FILE=" + filepath.Join(dir, "none")}, nil, "T_PASSWORD_FILE: open "},
		{[]string{"T_PASSWORD_FILE=" + dir}, nil, "T_PASSWORD_FILE: "},
	} {
		fs, _ := goStyle(tc.env...)
		err := fs.Parse(tc.args)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !IsUsage(err) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q %q: %v, want a usage error %q", tc.env, tc.args, err, tc.want)
		}
	}
	if v, from, err := Secret(Environ([]string{"X=1"}), "X"); v != "1" || from != "X" || err != nil {
		t.Errorf("Secret: %q %q %v", v, from, err)
	}
}

func TestMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--bogus"}, nil, "unknown flag --bogus (see --help)"},
		{[]string{"-bogus"}, nil, "unknown flag -bogus (see --help)"},
		{[]string{"--count"}, nil, "flag --count needs a value (see --help)"},
		{[]string{"--count", "--", "x"}, nil, "flag --count needs a value (see --help)"},
		{[]string{"--count", "many"}, nil, `flag --count "many": want a whole number (see --help)`},
		{[]string{"--timeout=soon"}, nil, `flag --timeout "soon": not a duration (such as 90s, 15m, 12h or 7d) (see --help)`},
		{[]string{"--part-size", "1X"}, nil, `flag --part-size "1X": not a size (such as 8M or 20971520) (see --help)`},
		{[]string{"--once=maybe"}, nil, `flag --once "maybe": want true or false (see --help)`},
		{nil, []string{"T_COUNT=many"}, `T_COUNT="many": want a whole number`},
		{nil, []string{"T_ONCE=maybe"}, `T_ONCE="maybe": want true or false`},
		{nil, []string{"T_TIMEOUT=soon"}, `T_TIMEOUT="soon": not a duration`},
	} {
		fs, _ := goStyle(tc.env...)
		fs.Hint = " (see --help)"
		err := fs.Parse(tc.args)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !IsUsage(err) || ExitCode(err) != 2 {
			t.Errorf("%q %q: %v, want a usage error %q", tc.args, tc.env, err, tc.want)
		}
	}
	for _, a := range []string{"-h", "--help", "-help"} {
		fs, _ := goStyle()
		if err := fs.Parse([]string{a}); !errors.Is(err, ErrHelp) {
			t.Errorf("%s: %v, want ErrHelp", a, err)
		}
	}
}

// POSIX (getopt) reading, as envplate and gof3r take their flags.
func TestPOSIX(t *testing.T) {
	var backup, verbose bool
	var charset, bucket string
	ep := func() *FlagSet {
		fs := NewFlagSet("ep", nil)
		fs.POSIX, fs.Interspersed = true, true
		fs.Bool(&backup, "backup", false, "")
		fs.Short('b', "backup")
		fs.Bool(&verbose, "verbose", false, "")
		fs.Short('v', "verbose")
		fs.String(&charset, "charset", "", "")
		fs.Short('c', "charset")
		fs.String(&bucket, "bucket", "", "")
		return fs
	}
	fs := ep()
	if err := fs.Parse([]string{"-bvclatin1", "a", "-", "--bucket=x", "b", "--", "cmd", "-v"}); err != nil {
		t.Fatal(err)
	}
	if !backup || !verbose || charset != "latin1" || bucket != "x" || !slices.Equal(fs.Args(), []string{"a", "-", "b", "cmd", "-v"}) || fs.Dash() != 3 {
		t.Errorf("%v %v %q %q %q %d", backup, verbose, charset, bucket, fs.Args(), fs.Dash())
	}
	if fs.Written("charset") != "-c" || fs.Written("bucket") != "--bucket" || fs.Written("verbose") != "-v" || fs.Written("backup") == "" {
		t.Errorf("written: %q %q %q", fs.Written("charset"), fs.Written("bucket"), fs.Written("verbose"))
	}
	fs = NewFlagSet("gof3r", nil)
	fs.POSIX, fs.ShortAndLong = true, true
	fs.String(&bucket, "bucket", "", "")
	fs.Short('b', "bucket")
	fs.Needs("bucket", "a bucket name")
	if err := fs.Parse([]string{"-b"}); err == nil || err.Error() != "flag -b/--bucket needs a bucket name" {
		t.Errorf("-b: %v", err)
	}
	for args, want := range map[string]string{
		"-vq":            `unknown flag -q in "-vq"`,
		"-z":             `unknown flag -z in "-z"`,
		"-backup":        `unknown flag -a in "-backup"`,
		"--backup=true":  "flag --backup takes no value",
		"-c":             "flag -c needs a value",
		"--charset":      "flag --charset needs a value",
		"-vh":            "help",
		"-c x -bc=koi8r": "",
	} {
		fs := ep()
		err := fs.Parse(strings.Fields(args))
		switch {
		case want == "" && (err != nil || charset != "koi8r"):
			t.Errorf("%s: %v %q", args, err, charset)
		case want == "help" && !errors.Is(err, ErrHelp):
			t.Errorf("%s: %v, want ErrHelp", args, err)
		case want != "" && want != "help" && (err == nil || err.Error() != want):
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}

func TestPrintDefaults(t *testing.T) {
	fs, _ := goStyle()
	var b strings.Builder
	fs.PrintDefaults(&b)
	for _, want := range []string{
		"  -s string\n    \tschedule\n",
		"  --url string\n    \turl [T_URL, OLD_URL] (default \"http://localhost\")\n",
		"  --password string\n    \tpassword [T_PASSWORD, T_PASSWORD_FILE]\n",
		"  --once\n    \tonce [T_ONCE]\n",
		"  --timeout duration\n    \ttimeout [T_TIMEOUT] (default 10s)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
}

func TestLogger(t *testing.T) {
	var b strings.Builder
	log, err := NewLogger(&b, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if !strings.Contains(b.String(), `"msg":"shown"`) || strings.Contains(b.String(), "hidden") {
		t.Errorf("%s", b.String())
	}
	if _, err := NewLogger(&b, "xml", ""); err == nil || err.Error() != "want text or json" {
		t.Errorf("format: %v", err)
	}
	if _, err := NewLogger(&b, "text", "loud"); err == nil || err.Error() != "want debug, info, warn or error" {
		t.Errorf("level: %v", err)
	}
}
