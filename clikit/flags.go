package clikit

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrHelp is what Parse returns for -h, --help (when no flag takes those
// names): the caller prints its usage and exits 0.
var ErrHelp = flag.ErrHelp

// FlagSet is a command's flags. Each flag may name environment variables
// that give its value when the flag is not on the command line (the first
// one set wins); a secret flag's variables may also be NAME_FILE, the path
// of a file holding the value. After Parse it says where each value came
// from (Origin, Quote), for messages and `check` commands.
//
// The command line reads as both Go's flag package and getopt do: --name,
// --name=value, --name value, -name (a long name with one dash), -n value,
// -nvalue, and short boolean flags run together (-bdsv). With POSIX set, one
// dash always means short flags, as getopt reads it. "--" ends the flags.
type FlagSet struct {
	// POSIX: -abc is -a -b -c (or -a with the value "bc"), never --abc.
	POSIX bool
	// Interspersed: positional arguments may stand between flags (etcdctl,
	// ep); otherwise the first one ends the flags (go-cron).
	Interspersed bool
	// TrimSpace: a variable's value is trimmed before use.
	TrimSpace bool
	// Hint is added to a mistake on the command line (" (see --help)").
	Hint string
	// ShortAndLong: a message names a short flag -c/--concurrency, not -c.
	ShortAndLong bool

	name    string
	lookup  Lookup
	defs    []*flagDef
	byLong  map[string]*flagDef
	byShort map[byte]*flagDef
	given   map[string]bool
	written map[string]string
	from    map[string]string
	args    []string
	dash    int
}

type flagDef struct {
	long   string
	short  byte
	value  flag.Value
	help   string
	vars   []string
	secret bool
	typ    string // for the usage: "string", "duration", ... ("" for booleans)
	def    string // the default as text, for the usage
	needs  string // what a missing value is called in a message
}

// NewFlagSet returns an empty flag set for the command name whose
// variables lookup finds (nil: none).
func NewFlagSet(name string, lookup Lookup) *FlagSet {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	return &FlagSet{name: name, lookup: lookup, byLong: map[string]*flagDef{}, byShort: map[byte]*flagDef{},
		given: map[string]bool{}, written: map[string]string{}, from: map[string]string{}, dash: -1}
}

func (f *FlagSet) define(d *flagDef) {
	if _, dup := f.byLong[d.long]; dup {
		panic("clikit: flag --" + d.long + " defined twice")
	}
	d.def = d.value.String()
	f.defs = append(f.defs, d)
	f.byLong[d.long] = d
}

// String defines a string flag.
func (f *FlagSet) String(p *string, name, def, help string, vars ...string) {
	*p = def
	f.define(&flagDef{long: name, value: stringValue{p}, help: help, vars: vars, typ: "string"})
}

// Secret defines a string flag whose variables each have a NAME_FILE
// variant; its value never shows in the usage or in a message. A secret
// given twice (flag or variable, and a file) is a usage error.
func (f *FlagSet) Secret(p *string, name, help string, vars ...string) {
	*p = ""
	f.define(&flagDef{long: name, value: stringValue{p}, help: help, vars: vars, secret: true, typ: "string"})
}

// Bool defines a boolean flag: given alone it is true; its variables take
// true/false, 1/0.
func (f *FlagSet) Bool(p *bool, name string, def bool, help string, vars ...string) {
	*p = def
	f.define(&flagDef{long: name, value: boolValue{p}, help: help, vars: vars})
}

// Int defines an integer flag.
func (f *FlagSet) Int(p *int, name string, def int, help string, vars ...string) {
	*p = def
	f.define(&flagDef{long: name, value: intValue(p), help: help, vars: vars, typ: "int"})
}

// Duration defines a duration flag; it takes days too (see ParseDuration).
func (f *FlagSet) Duration(p *time.Duration, name string, def time.Duration, help string, vars ...string) {
	*p = def
	f.define(&flagDef{long: name, value: durationValue(p), help: help, vars: vars, typ: "duration"})
}

// Size defines a byte-count flag (see ParseSize).
func (f *FlagSet) Size(p *int64, name string, def int64, help string, vars ...string) {
	*p = def
	f.define(&flagDef{long: name, value: sizeValue(p), help: help, vars: vars, typ: "size"})
}

// Var defines a flag of any flag.Value (a boolean one when it has
// IsBoolFlag() true).
func (f *FlagSet) Var(v flag.Value, name, help string, vars ...string) {
	f.define(&flagDef{long: name, value: v, help: help, vars: vars, typ: "value"})
}

// Short gives the flag long the one-letter name c too (-c).
func (f *FlagSet) Short(c byte, long string) {
	d := f.byLong[long]
	if d == nil {
		panic("clikit: Short for an undefined flag --" + long)
	}
	d.short = c
	f.byShort[c] = d
}

// Needs names what flag long takes, for the message when it is missing:
// "flag -c needs a charset name".
func (f *FlagSet) Needs(long, what string) { f.byLong[long].needs = what }

func isBool(v flag.Value) bool {
	b, ok := v.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Args are the positional arguments, those after "--" included.
func (f *FlagSet) Args() []string { return f.args }

// Dash is where "--" stood among Args (-1: it did not).
func (f *FlagSet) Dash() int { return f.dash }

// Given reports whether flag name was on the command line.
func (f *FlagSet) Given(name string) bool { return f.given[name] }

// Written is flag name as the command line spelled it ("-c", "--charset";
// "" when it was not given), for a message in the user's words.
func (f *FlagSet) Written(name string) string { return f.written[name] }

// From is the variable flag name's value came from ("" when the flag was
// given, or the default holds).
func (f *FlagSet) From(name string) string { return f.from[name] }

// FromEnv maps each flag set by a variable to that variable.
func (f *FlagSet) FromEnv() map[string]string {
	m := make(map[string]string, len(f.from))
	for k, v := range f.from {
		m[k] = v
	}
	return m
}

// Vars are the variables flag name reads.
func (f *FlagSet) Vars(name string) []string {
	if d := f.byLong[name]; d != nil {
		return d.vars
	}
	return nil
}

// Origin names where flag name's value came from, for a message: its
// variable, or the flag.
func (f *FlagSet) Origin(name string) string {
	if v := f.from[name]; v != "" {
		return v
	}
	return "--" + name
}

// Value is flag name's value as text ("" for a flag not defined), for a
// `check` command's plan. Not for secrets.
func (f *FlagSet) Value(name string) string {
	if d := f.byLong[name]; d != nil && !d.secret {
		return d.value.String()
	}
	return ""
}

// Quote is the flag's origin with its value, as a user would write it:
// `--count "0"` or `GOCRON_CHECK_COUNT="0"`. Not for secrets.
func (f *FlagSet) Quote(name string) string {
	v := ""
	if d := f.byLong[name]; d != nil {
		v = d.value.String()
	}
	if from := f.from[name]; from != "" {
		return fmt.Sprintf("%s=%q", from, v)
	}
	return fmt.Sprintf("--%s %q", name, v)
}

// NonNegative refuses a negative value of the integer or duration flags
// names, naming the flag or variable it came from.
func (f *FlagSet) NonNegative(names ...string) error {
	for _, name := range names {
		d := f.byLong[name]
		v, ok := d.value.(interface{ negative() bool })
		neg := ok && v.negative()
		if !neg {
			continue
		}
		if from := f.from[name]; from != "" {
			return Usagef("%s=%s: must not be negative", from, d.value)
		}
		return Usagef("--%s %s: must not be negative", name, d.value)
	}
	return nil
}

// PrintDefaults writes every flag, its variables and its default to w.
func (f *FlagSet) PrintDefaults(w io.Writer) {
	for _, d := range f.defs {
		var b strings.Builder
		b.WriteString("  ")
		if d.short != 0 {
			fmt.Fprintf(&b, "-%c, ", d.short)
		}
		if len(d.long) == 1 {
			b.WriteString("-" + d.long)
		} else {
			b.WriteString("--" + d.long)
		}
		if !isBool(d.value) && d.typ != "" {
			b.WriteString(" " + d.typ)
		}
		b.WriteString("\n    \t" + strings.ReplaceAll(d.help, "\n", "\n    \t"))
		if len(d.vars) > 0 {
			names := append([]string(nil), d.vars...)
			if d.secret {
				names = names[:0]
				for _, n := range d.vars {
					names = append(names, n, n+"_FILE")
				}
			}
			b.WriteString(" [" + strings.Join(names, ", ") + "]")
		}
		if !d.secret && d.def != "" && d.def != "0" && d.def != "false" && d.def != "0s" {
			if d.typ == "string" {
				fmt.Fprintf(&b, " (default %q)", d.def)
			} else {
				fmt.Fprintf(&b, " (default %s)", d.def)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}
