//go:build !linux

package s3

func allocBuf(n int) []byte { return make([]byte, n) }

func freeBuf([]byte) {}
