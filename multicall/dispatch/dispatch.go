// Package dispatch picks which tool a multicall binary runs, the way
// busybox does: from the name it was called by (argv[0], usually a symlink
// named for the tool), or from its first argument when it is called by its
// own name ("cronbox go-cron --help"). It knows nothing about the tools
// themselves, so the table can be tested with fake mains.
package dispatch

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Main is a tool's entry point: it takes the arguments after the program
// name and returns the exit status.
type Main func(args []string) int

// Table maps a tool's name (the name of its symlink) to its Main.
type Table map[string]Main

// Names returns the tools' names, sorted.
func (t Table) Names() []string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run dispatches argv (argv[0] included) to a tool and returns its exit
// status. self is the multicall binary's own name. Usage errors exit 2,
// as every cronbox tool does.
func (t Table) Run(self string, argv []string, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		fmt.Fprintf(stderr, "%s: no program name in argv\n", self)
		return 2
	}
	name := filepath.Base(argv[0])
	if m, ok := t[name]; ok {
		return m(argv[1:])
	}
	// Called by its own name (or any unknown name): the tool is the first argument.
	if len(argv) < 2 {
		t.usage(self, stderr)
		return 2
	}
	switch argv[1] {
	case "-h", "--help", "help":
		t.usage(self, stdout)
		return 0
	case "--list":
		fmt.Fprintln(stdout, strings.Join(t.Names(), "\n"))
		return 0
	}
	if m, ok := t[argv[1]]; ok {
		return m(argv[2:])
	}
	fmt.Fprintf(stderr, "%s: unknown tool %q (tools: %s)\n", self, argv[1], strings.Join(t.Names(), ", "))
	return 2
}

func (t Table) usage(self string, w io.Writer) {
	fmt.Fprintf(w, "usage: %s TOOL [ARGS...]   or call it through a symlink named TOOL\n", self)
	fmt.Fprintf(w, "       %s --list           prints the tools, one a line\n", self)
	fmt.Fprintf(w, "tools: %s\n", strings.Join(t.Names(), ", "))
}
