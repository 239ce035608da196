package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// single stores an input that fits in one part with one PutObject,
// carrying its CRC64NVME and, since it is known before the upload starts,
// its SHA-256 as metadata (what versions before 2026-12 recorded).
func (p *putJob) single(ctx context.Context, buf []byte, res readResult, enc *encodeStage) (Object, error) {
	c := p.c
	start := time.Now()
	sha := sha256.Sum256(buf)
	sum := hex.EncodeToString(sha[:])
	crc := checksumAlgo.ChecksumBytes(buf)
	po := p.createOptions()
	po.UserMetadata["x-amz-meta-"+MetaSHA256] = sum
	po.UserMetadata[checksumAlgo.Key()] = crc.Encoded()
	body := newPartBody(buf)
	info, err := c.core.PutObject(ctx, p.bucket, p.key, body, int64(len(buf)), "", sum, po)
	body.release()
	if err != nil {
		return Object{}, p.explainLock("put", err)
	}
	p.log.Debug("s3 put", "size", len(buf), "parts", 1, "elapsed", time.Since(start))
	o := p.result(int64(len(buf)), Checksum{Algorithm: checksumAlgo.String(), Type: fullObject, Value: crc.Encoded()}, info)
	o.SHA256, o.Metadata[MetaSHA256] = sum, sum
	o.InputSize = enc.inputSize(res.total)
	return p.finish(ctx, o, res.sums)
}
