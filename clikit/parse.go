package clikit

import (
	"errors"
	"fmt"
	"strings"
)

// Parse reads args, then fills every flag not given from its variables.
// Mistakes are usage errors; -h and --help (unless defined) are ErrHelp.
func (f *FlagSet) Parse(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			f.dash = len(f.args)
			f.args = append(f.args, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			if !f.Interspersed {
				f.args = append(f.args, args[i:]...)
				break
			}
			f.args = append(f.args, a)
			continue
		}
		next := func() (string, bool) {
			if i+1 < len(args) && args[i+1] != "--" {
				i++
				return args[i], true
			}
			return "", false
		}
		if err := f.parseWord(a, next); err != nil {
			if errors.Is(err, ErrHelp) {
				return err
			}
			return Usagef("%v%s", err, f.Hint)
		}
	}
	return f.applyEnv()
}

// parseWord reads one flag word, taking its value from next when it is
// not in the word.
func (f *FlagSet) parseWord(a string, next func() (string, bool)) error {
	if long, ok := strings.CutPrefix(a, "--"); ok {
		name, val, hasVal := strings.Cut(long, "=")
		d := f.byLong[name]
		if d == nil {
			if name == "help" {
				return ErrHelp
			}
			return fmt.Errorf("unknown flag --%s", name)
		}
		return f.set(d, "--"+name, val, hasVal, next)
	}
	body := a[1:]
	if name, val, hasVal := strings.Cut(body, "="); !f.POSIX {
		if d := f.byLong[name]; d != nil {
			return f.set(d, f.shown(d, false), val, hasVal, next)
		}
		if _, short := f.byShort[body[0]]; !short {
			if name == "help" || name == "h" {
				return ErrHelp
			}
			return fmt.Errorf("unknown flag -%s", name)
		}
	}
	// Short flags: booleans run together; a value flag takes the rest of
	// the word, or the next one.
	for j := 0; j < len(body); j++ {
		d := f.byShort[body[j]]
		switch {
		case d == nil && body[j] == 'h':
			return ErrHelp
		case d == nil && len(body) == 1 && !f.POSIX:
			return fmt.Errorf("unknown flag -%c", body[j])
		case d == nil:
			return fmt.Errorf("unknown flag -%c in %q", body[j], a)
		}
		if isBool(d.value) {
			if j+1 < len(body) && body[j+1] == '=' {
				return f.set(d, f.shown(d, true), body[j+2:], true, next)
			}
			if err := f.set(d, f.shown(d, true), "", false, next); err != nil {
				return err
			}
			continue
		}
		rest := strings.TrimPrefix(body[j+1:], "=")
		return f.set(d, f.shown(d, true), rest, rest != "", next)
	}
	return nil
}

// shown is the flag's name in a message, as written: -c (or -c/--charset
// with ShortAndLong) or --charset.
func (f *FlagSet) shown(d *flagDef, short bool) string {
	switch {
	case short && f.ShortAndLong:
		return "-" + string(d.short) + "/--" + d.long
	case short:
		return "-" + string(d.short)
	}
	return "--" + d.long
}

func (f *FlagSet) set(d *flagDef, shown, val string, hasVal bool, next func() (string, bool)) error {
	f.given[d.long] = true
	f.written[d.long] = shown
	if isBool(d.value) {
		if !hasVal {
			return d.value.Set("true")
		}
		if f.POSIX {
			return fmt.Errorf("flag %s takes no value", shown)
		}
		if err := d.value.Set(val); err != nil {
			return fmt.Errorf("flag %s %q: %v", shown, val, err)
		}
		return nil
	}
	if !hasVal {
		v, ok := next()
		if !ok {
			what := d.needs
			if what == "" {
				what = "a value"
			}
			return fmt.Errorf("flag %s needs %s", shown, what)
		}
		val = v
	}
	if err := d.value.Set(val); err != nil {
		if d.secret {
			return fmt.Errorf("flag %s: %v", shown, err)
		}
		return fmt.Errorf("flag %s %q: %v", shown, val, err)
	}
	return nil
}

// applyEnv fills the flags not given from their variables.
func (f *FlagSet) applyEnv() error {
	for _, d := range f.defs {
		if f.given[d.long] {
			if d.secret {
				for _, n := range d.vars {
					if file, _ := f.lookup(n + "_FILE"); file != "" {
						return Usagef("--%s and %s_FILE: give one of them", d.long, n)
					}
				}
			}
			continue
		}
		for _, n := range d.vars {
			v, from, err := f.env(d, n)
			if err != nil {
				return err
			}
			if from == "" {
				continue
			}
			if err := d.value.Set(v); err != nil {
				if d.secret {
					return Usagef("%s: %v", from, err)
				}
				return Usagef("%s=%q: %v", from, v, err)
			}
			f.from[d.long] = from
			break
		}
	}
	return nil
}

// env reads variable n for d: its value and the variable it came from ("":
// not set).
func (f *FlagSet) env(d *flagDef, n string) (string, string, error) {
	if d.secret {
		return Secret(func(name string) (string, bool) { v, ok := f.lookup(name); return f.trim(v), ok }, n)
	}
	v, _ := f.lookup(n)
	if v = f.trim(v); v == "" {
		return "", "", nil
	}
	return v, n, nil
}

func (f *FlagSet) trim(v string) string {
	if f.TrimSpace {
		return strings.TrimSpace(v)
	}
	return v
}
