//go:build !unix

package s3

func allocBuf(n int) []byte { return make([]byte, n) }

func freeBuf([]byte) {}
