//go:build !linux

package procmem

// ReleaseExecutable does nothing where there is no madvise; see release_linux.go.
func ReleaseExecutable() (int64, error) { return 0, nil }
