package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/minio/minio-go/v7"

	"cronbox/clikit/backoff"
)

// The multipart upload both the stream and the file strategies use: its
// start, its parts with their checksums, its completion with the whole
// object's, and its abort.

// upload is one multipart upload in progress.
type upload struct {
	p  *putJob
	id string
}

// create starts the multipart upload, declaring its checksum. It runs
// without ctx's cancellation: a request cancelled in flight may still
// create the upload on the server, and then we would not know its ID to
// abort it.
func (p *putJob) create(ctx context.Context) (*upload, error) {
	po := p.createOptions()
	po.UserMetadata["x-amz-checksum-algorithm"] = checksumAlgo.String()
	po.UserMetadata["x-amz-checksum-type"] = fullObject
	sctx, scancel := p.c.cleanupContext(ctx)
	defer scancel()
	id, err := p.c.core.NewMultipartUpload(sctx, p.bucket, p.key, po)
	if err != nil {
		return nil, err
	}
	p.log.Debug("s3 multipart upload started", "upload_id", id)
	return &upload{p: p, id: id}, nil
}

// partSum is what a part is declared with: its checksum, and its SHA-256
// when the connection is plain http.
type partSum struct {
	crc minio.Checksum
	sha []byte // nil over https
}

// sumPart computes a part's partSum from its bytes.
func (p *putJob) sumPart(b []byte) partSum {
	s := partSum{crc: checksumAlgo.ChecksumBytes(b)}
	if !p.c.secure {
		h := sha256.Sum256(b)
		s.sha = h[:]
	}
	return s
}

// partHasher computes a partSum while a part is read.
func (p *putJob) partHasher() (io.Writer, func() partSum) {
	crc := checksumAlgo.Hasher()
	if p.c.secure {
		return crc, func() partSum { return partSum{crc: minio.NewChecksum(checksumAlgo, crc.Sum(nil))} }
	}
	sha := sha256.New()
	return io.MultiWriter(crc, sha), func() partSum {
		return partSum{crc: minio.NewChecksum(checksumAlgo, crc.Sum(nil)), sha: sha.Sum(nil)}
	}
}

// part uploads part n, declaring its checksum (which the server checks;
// buckets with object lock require one on every part). Over https the
// payload is not signed (UNSIGNED-PAYLOAD, as the AWS SDKs do): TLS and the
// signed checksum header cover it. Over plain http it is signed with its
// SHA-256, so that no one on the way can change a part and its CRC
// together; measured on the 1 GiB bench, the extra SHA-256 made no
// difference beyond the noise.
func (u *upload) part(ctx context.Context, n int, body io.Reader, size int64, sum partSum) (minio.ObjectPart, error) {
	h := http.Header{}
	h.Set(checksumAlgo.Key(), sum.crc.Encoded())
	po := minio.PutObjectPartOptions{CustomHeader: h, SSE: u.p.opts.SSE.forRead(), DisableContentSha256: true}
	if sum.sha != nil {
		po.Sha256Hex = hex.EncodeToString(sum.sha)
	}
	op, err := u.p.c.core.PutObjectPart(ctx, u.p.bucket, u.p.key, u.id, n, body, size, po)
	if err != nil {
		return op, opErr(fmt.Sprintf("put part %d", n), u.p.bucket, u.p.key, err)
	}
	if op.Checksum(checksumAlgo) == "" {
		// The server did not echo it (not every server does): the
		// completion's whole-object checksum needs each part's.
		op.ChecksumCRC64NVME = sum.crc.Encoded()
	}
	op.Size = size
	return op, nil
}

// complete sends the parts with the whole-object checksum; the server
// refuses (BadDigest) if the object it assembled does not match. Any
// failure aborts the upload.
func (u *upload) complete(ctx context.Context, parts []minio.ObjectPart) (Object, error) {
	p := u.p
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	var size int64
	cps := make([]minio.CompletePart, len(parts))
	for i, op := range parts {
		if op.PartNumber != i+1 {
			u.abort(ctx)
			return Object{}, fmt.Errorf("internal error: part %d missing", i+1)
		}
		size += op.Size
		cps[i] = minio.CompletePart{PartNumber: op.PartNumber, ETag: op.ETag, ChecksumCRC64NVME: op.ChecksumCRC64NVME}
	}
	whole, err := checksumAlgo.FullObjectChecksum(parts)
	if err != nil {
		u.abort(ctx)
		return Object{}, fmt.Errorf("combine the parts' checksums: %w", err)
	}
	sum := Checksum{Algorithm: checksumAlgo.String(), Type: fullObject, Value: whole.Encoded()}
	po := minio.PutObjectOptions{
		UserMetadata:         map[string]string{checksumAlgo.Key(): whole.Encoded(), "x-amz-checksum-type": fullObject},
		ServerSideEncryption: p.opts.SSE.forRead(),
	}
	info, err := p.c.core.CompleteMultipartUpload(ctx, p.bucket, p.key, u.id, cps, po)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchUpload" && u.completedEarlier(ctx, sum, size) {
			// A retried completion whose first try went through.
			return p.result(size, sum, info), nil
		}
		u.abort(ctx)
		return Object{}, err
	}
	return p.result(size, sum, info), nil
}

// completedEarlier says whether key now holds the object this upload
// would have completed: same size and whole-object checksum.
func (u *upload) completedEarlier(ctx context.Context, sum Checksum, size int64) bool {
	o, err := u.p.c.StatWithOptions(ctx, u.p.bucket, u.p.key, StatOptions{SSE: u.p.opts.SSE})
	return err == nil && o.Size == size && o.Checksum == sum
}

func (u *upload) abort(ctx context.Context) {
	cctx, ccancel := u.p.c.cleanupContext(ctx)
	defer ccancel()
	if err := u.p.c.abort(cctx, u.p.bucket, u.p.key, u.id, ctx.Err() != nil); err != nil {
		u.p.log.Warn("s3 could not abort multipart upload", "upload_id", u.id, "err", err)
	} else {
		u.p.log.Debug("s3 multipart upload aborted", "upload_id", u.id)
	}
}

// abort aborts the upload and checks that it is gone. A part request
// cancelled on our side (cancelled: the caller's context ended while parts
// were in flight) may still be running on the server, and there is no
// telling when it ends: S3 documents that such a part may still land, and
// versitygw then brings the upload back. So after a cancellation the
// upload is looked for again over a second, and aborted again if it is
// back. Without a cancellation, Put waits for the parts in flight before
// it aborts.
func (c *Client) abort(ctx context.Context, bucket, key, uploadID string, cancelled bool) error {
	checks := 1
	if cancelled {
		checks = 4
	}
	aborts := 0
	for try := 0; try < checks; try++ {
		if try > 0 {
			if err := backoff.Sleep(ctx, 250*time.Millisecond); err != nil {
				return err
			}
		}
		for {
			left, err := c.uploadListed(ctx, bucket, key, uploadID, aborts == 0)
			if err != nil || !left {
				if err != nil {
					return err
				}
				break
			}
			if aborts++; aborts > 5 {
				return opErr("abort multipart upload", bucket, key, fmt.Errorf("upload %s is still listed after %d aborts", uploadID, aborts-1))
			}
			if err := c.core.AbortMultipartUpload(ctx, bucket, key, uploadID); err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
				return opErr("abort multipart upload", bucket, key, err)
			}
		}
	}
	return nil
}

// uploadListed says whether the upload is still listed; assume says yes
// without asking (before the first abort).
func (c *Client) uploadListed(ctx context.Context, bucket, key, uploadID string, assume bool) (bool, error) {
	if assume {
		return true, nil
	}
	res, err := c.core.ListMultipartUploads(ctx, bucket, key, "", "", "", 1000)
	if err != nil {
		return false, opErr("list multipart uploads", bucket, key, err)
	}
	for _, u := range res.Uploads {
		if u.Key == key && u.UploadID == uploadID {
			return true, nil
		}
	}
	return false, nil
}

// cleanupContext is for aborting and removing after a failure or a
// cancellation: it outlives ctx's cancellation, but not by more than 30 s
// (a stopping container gets little more before SIGKILL).
func (c *Client) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), min(c.cfg.ResponseTimeout, 30*time.Second))
}
