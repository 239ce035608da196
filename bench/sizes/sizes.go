//go:build ignore

// sizes BINARY [TOP] prints what each package family costs in a Go binary
// built WITHOUT -s -w (the symbol table is what it reads), as a Markdown
// table sorted by size, largest first; TOP (default 25) rows, the rest
// summed. bench/image.sh builds the multicall binary unstripped and runs it
// with `GOWORK=off go run` (standard library only).
//
// A family is a module (github.com/prometheus/client_golang, ...) or, for
// the standard library, its top package (net, crypto, runtime, ...). Its
// bytes are the sizes of its symbols in the sections that are in the file
// (text, rodata, data, noptrdata), plus a share of .gopclntab (the
// function tables) in proportion to its text. That share is an estimate:
// pclntab grows with the number and size of functions, which follows text
// closely but not exactly. Data the linker does not name per package (most
// type descriptors and strings are merged symbols) is listed as
// "(unattributed rodata)". So the table tells where bytes go; a build
// without a family is the measure of what dropping it saves.
package main

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sizes BINARY [TOP]")
		os.Exit(2)
	}
	top := 25
	if len(os.Args) > 2 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "sizes: TOP:", err)
			os.Exit(2)
		}
		top = n
	}
	if err := run(os.Args[1], top); err != nil {
		fmt.Fprintln(os.Stderr, "sizes:", err)
		os.Exit(1)
	}
}

type span struct {
	name      string
	lo, hi    uint64
	inFile    bool
	isText    bool
	isPCLN    bool
	attribute bool // whether its symbols are attributed to packages
}

func run(path string, top int) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return err
	}
	var mods []string
	for _, d := range bi.Deps {
		mods = append(mods, d.Path)
	}
	mods = append(mods, bi.Main.Path)
	// Longest module path first, so the most specific module wins.
	sort.Slice(mods, func(i, j int) bool { return len(mods[i]) > len(mods[j]) })

	var spans []span
	var fileTotal, pcln uint64
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		sp := span{name: s.Name, lo: s.Addr, hi: s.Addr + s.Size, inFile: s.Type != elf.SHT_NOBITS}
		sp.isText = s.Name == ".text"
		sp.isPCLN = s.Name == ".gopclntab"
		sp.attribute = sp.inFile && !sp.isPCLN
		if sp.inFile {
			fileTotal += s.Size
		}
		if sp.isPCLN {
			pcln = s.Size
		}
		spans = append(spans, sp)
	}
	syms, err := f.Symbols()
	if err != nil {
		return fmt.Errorf("%s has no symbol table (build it without -s -w): %w", path, err)
	}
	text := map[string]uint64{}
	other := map[string]uint64{}
	var attributed, textTotal uint64
	for _, s := range syms {
		if s.Size == 0 {
			continue
		}
		var sp *span
		for i := range spans {
			if s.Value >= spans[i].lo && s.Value < spans[i].hi {
				sp = &spans[i]
				break
			}
		}
		if sp == nil || !sp.attribute {
			continue
		}
		fam := family(pkgOf(s.Name), mods)
		if sp.isText {
			text[fam] += s.Size
			textTotal += s.Size
		} else {
			other[fam] += s.Size
		}
		attributed += s.Size
	}
	type row struct {
		fam         string
		text, other uint64
		pcln        float64
	}
	var rows []row
	fams := map[string]bool{}
	for k := range text {
		fams[k] = true
	}
	for k := range other {
		fams[k] = true
	}
	for k := range fams {
		r := row{fam: k, text: text[k], other: other[k]}
		if textTotal > 0 {
			r.pcln = float64(pcln) * float64(r.text) / float64(textTotal)
		}
		rows = append(rows, r)
	}
	total := func(r row) float64 { return float64(r.text+r.other) + r.pcln }
	sort.Slice(rows, func(i, j int) bool { return total(rows[i]) > total(rows[j]) })

	mb := func(b float64) string { return fmt.Sprintf("%.2f", b/1e6) }
	fmt.Printf("| package family | text | data, rodata | pclntab share | total MB |\n")
	fmt.Printf("| --- | ---: | ---: | ---: | ---: |\n")
	var rest row
	for i, r := range rows {
		if i >= top {
			rest.text += r.text
			rest.other += r.other
			rest.pcln += r.pcln
			continue
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.fam, mb(float64(r.text)), mb(float64(r.other)), mb(r.pcln), mb(total(r)))
	}
	if len(rows) > top {
		fmt.Printf("| %d more families | %s | %s | %s | %s |\n", len(rows)-top, mb(float64(rest.text)), mb(float64(rest.other)), mb(rest.pcln), mb(total(rest)))
	}
	un := float64(fileTotal) - float64(attributed) - float64(pcln)
	fmt.Printf("| (unattributed rodata: merged type descriptors, strings) | | %s | | %s |\n", mb(un), mb(un))
	fmt.Printf("| **loaded sections in all** | | | | **%s** |\n", mb(float64(fileTotal)))
	return nil
}

// pkgOf returns the import path of the package a symbol belongs to.
func pkgOf(name string) string {
	for _, p := range []string{"type:.eq.", "type:.hash.", "type:*", "type:", "go:itab.*", "go:itab.", "go:string.", "go:"} {
		if strings.HasPrefix(name, p) {
			name = name[len(p):]
			break
		}
	}
	// An itab is named for its type, then its interface.
	if i := strings.IndexByte(name, ','); i >= 0 {
		name = name[:i]
	}
	// The package path ends at the first '.' after its last '/', looking
	// only before any '(' or '[' (methods, generic instantiations).
	head := name
	if i := strings.IndexAny(head, "(["); i >= 0 {
		head = head[:i]
	}
	slash := strings.LastIndex(head, "/")
	dot := strings.Index(head[slash+1:], ".")
	if dot < 0 {
		return head
	}
	return head[:slash+1+dot]
}

func family(pkg string, mods []string) string {
	for _, m := range mods {
		if pkg == m || strings.HasPrefix(pkg, m+"/") {
			return m
		}
	}
	if strings.HasPrefix(pkg, "vendor/") {
		return "std (vendored golang.org/x)"
	}
	switch {
	case strings.HasPrefix(pkg, "go.shape") || strings.HasPrefix(pkg, "struct {") || strings.HasPrefix(pkg, "$"):
		return "(generic shapes, literals)"
	case pkg == "main":
		return "cronbox/multicall"
	}
	top, _, _ := strings.Cut(pkg, "/")
	if strings.Contains(top, ".") {
		return pkg // a module the build info does not list
	}
	if !strings.Contains(pkg, "/") && !knownStd[top] {
		return "std runtime" // assembly routines named without a package
	}
	if top == "net" && strings.HasPrefix(pkg, "net/http") {
		return "std net/http"
	}
	return "std " + top
}

var knownStd = map[string]bool{}

func init() {
	for _, p := range strings.Fields("archive bufio bytes cmp compress container context crypto database debug embed encoding errors expvar flag fmt go hash html image index internal io iter log maps math mime net os path plugin reflect regexp runtime slices sort strconv strings structs sync syscall testing text time unicode unique unsafe weak") {
		knownStd[p] = true
	}
}
