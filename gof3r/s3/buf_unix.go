//go:build unix

package s3

import "syscall"

// allocBuf maps anonymous memory for a part buffer: pages count in the RSS
// only once written, and they are not part of the Go heap.
func allocBuf(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

func freeBuf(b []byte) {
	if cap(b) > 0 {
		_ = syscall.Munmap(b[:cap(b)])
	}
}
