package procmem

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ReleaseExecutable drops this process's mappings of the read-only parts of
// its own executable (code, read-only data, the function tables) with
// madvise(MADV_DONTNEED), and returns how many bytes they span. For a
// private file mapping that was never written this only unmaps: a page
// touched again is mapped from the page cache, or read from the file.
// Writable mappings (the data segment, written by the program) are left
// alone: dropping them would lose what was written.
func ReleaseExecutable() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode path
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || strings.Join(fs[5:], " ") != exe || strings.ContainsRune(fs[1], 'w') {
			continue
		}
		lo, hi, ok := strings.Cut(fs[0], "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			continue
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(a), uintptr(b-a), syscall.MADV_DONTNEED); e != 0 {
			return n, fmt.Errorf("madvise %s %s: %w", fs[0], fs[1], e)
		}
		n += int64(b - a)
	}
	return n, sc.Err()
}
