package s3

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"cronbox/testkit"

	"github.com/minio/minio-go/v7"
)

// The server checks the whole object's CRC64NVME at completion: when it
// does not match the parts (here: part 2's size is misreported, so the
// combined CRC is wrong), S3 refuses with BadDigest, creates no object,
// and the upload is aborted.
func TestCompletionChecksumIsCheckedByTheServer(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "checked")
	c, err := New(Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := &putJob{c: c, bucket: b, key: "k", hdr: map[string]string{}, progress: newProgressGate(nil), log: slog.New(slog.DiscardHandler)}
	up, err := p.create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var parts []minio.ObjectPart
	for i, data := range [][]byte{bytes.Repeat([]byte{1}, 5<<20), []byte("tail")} {
		op, err := up.part(ctx, i+1, bytes.NewReader(data), int64(len(data)), p.sumPart(data))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, op)
	}
	parts[1].Size = 3
	_, err = up.complete(ctx, parts)
	if err == nil || !strings.Contains(err.Error(), "CRC64NVME") {
		t.Fatalf("completion with a wrong whole-object checksum: %v, want the server's refusal", err)
	}
	ups, _ := c.ListMultipartUploads(ctx, b, "")
	objs, _ := c.List(ctx, b, "")
	if len(ups) != 0 || len(objs) != 0 {
		t.Fatalf("left: uploads %v, objects %v", ups, objs)
	}
}
