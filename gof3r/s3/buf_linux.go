package s3

import "syscall"

// allocBuf maps anonymous memory for a part buffer: it is not part of the
// Go heap (see bufPool), and its pages count in the RSS only once written.
// Huge pages are refused: with transparent huge pages set to "always" a
// 5 MiB buffer would otherwise occupy three 2 MiB pages.
func allocBuf(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	_ = syscall.Madvise(b, syscall.MADV_NOHUGEPAGE)
	return b
}

// freeBuf unmaps a buffer from allocBuf; syscall.Munmap refuses (EINVAL)
// a slice it did not map, such as the make() fallback.
func freeBuf(b []byte) {
	if cap(b) > 0 {
		_ = syscall.Munmap(b[:cap(b)])
	}
}
