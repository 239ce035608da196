package procmem

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// exeRSS is the resident size of this process's read-only mappings of its
// own executable, from /proc/self/smaps.
func exeRSS(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kb int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 5 && strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":") {
			in = len(fs) >= 6 && strings.Join(fs[5:], " ") == exe && !strings.ContainsRune(fs[1], 'w')
			continue
		}
		if in && fs[0] == "Rss:" {
			n, _ := strconv.ParseInt(fs[1], 10, 64)
			kb += n
		}
	}
	return kb << 10
}

// The executable's code and read-only data are dropped and the program
// goes on running (it faults back what it uses).
func TestReleaseExecutable(t *testing.T) {
	before := exeRSS(t)
	n, err := ReleaseExecutable()
	if err != nil {
		t.Fatal(err)
	}
	after := exeRSS(t)
	if n <= 0 || n < before {
		t.Fatalf("released %d bytes of mappings, %d were resident", n, before)
	}
	// What the test touched since (reading smaps among it) is back, but
	// not all of it.
	if after >= before {
		t.Fatalf("executable resident: %d bytes before, %d after", before, after)
	}
	// Still runs: code it never ran since start comes back from the file.
	if s := strconv.Quote(strings.Repeat("é", 3)); s != `"ééé"` {
		t.Fatal(s)
	}
}
