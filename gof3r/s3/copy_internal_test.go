package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"

	"cronbox/testkit"
)

// A staged stream larger than one CopyObject may copy (5 GiB on S3; 5 MiB
// here) reaches its key through a multipart copy, checksum included.
func TestStagedStreamBeyondTheCopyLimit(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "bigcopy")
	c, err := New(Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	c.copyLimit = 5 << 20
	data := make([]byte, 12<<20+3)
	rand.Read(data)
	ctx := context.Background()
	if _, err := c.Put(ctx, b, "k", io.MultiReader(bytes.NewReader(data)), PutOptions{ContentType: "application/x-test", Metadata: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	obj, err := c.Get(ctx, b, "k", &got)
	if err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("get: %v", err)
	}
	if obj.Metadata["a"] != "b" || obj.ContentType != "application/x-test" {
		t.Fatalf("metadata lost in the multipart copy: %+v", obj)
	}
	if objs, _ := c.List(ctx, b, ""); len(objs) != 1 {
		t.Fatalf("objects: %+v", objs)
	}
	if ups, _ := c.ListMultipartUploads(ctx, b, ""); len(ups) != 0 {
		t.Fatalf("uploads left: %v", ups)
	}
}
