package main

// Object lock and server-side encryption through etcd-backup save (issue
// 15 item 3, the etcd-backup side; gof3r/s3 does the S3 part): a locked
// backup survives prune (which says until when and does not fail) and
// gof3r rm; a lock on a bucket without object lock is refused at start,
// naming the bucket; the SSE settings reach the requests.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

func makeBucket(t *testing.T, srv *testkit.S3Server, name string, lock bool) string {
	t.Helper()
	mc, err := minio.New(srv.Host, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(context.Background(), name, minio.MakeBucketOptions{ObjectLocking: lock}); err != nil {
		t.Fatalf("create bucket %s (object lock %v): %v", name, lock, err)
	}
	return name
}

func TestObjectLock(t *testing.T) {
	s3srv := testkit.VersitygwWith(t, testkit.VersitygwOptions{Versioning: true})
	locked := makeBucket(t, s3srv, "locked", true)
	plain := makeBucket(t, s3srv, "plain", false)
	src := etcdtest.Embed(t, etcdtest.Options{})
	fill(t, src.Client(t), "/l/", 200, 18)
	env := append(s3srv.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_PREFIX=nightly/",
		"AWS_S3_OBJECT_LOCK_MODE=COMPLIANCE", "AWS_S3_OBJECT_LOCK_RETAIN=1d")

	// A lock on a bucket without object lock: refused before anything is
	// written, naming the bucket.
	_, errOut, code := run(t, append(env, "AWS_S3_BUCKET="+plain), nil, "save")
	if code != 2 || !strings.Contains(errOut, "bucket "+plain) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Fatalf("lock on a plain bucket: exit %d, %q; want 2 and one line naming the bucket", code, errOut)
	}
	if keys := objectKeys(t, s3srv, plain); len(keys) != 0 {
		t.Fatalf("a refused save wrote %v", keys)
	}

	env = append(env, "AWS_S3_BUCKET="+locked)
	var saved []saveOut
	for i := 0; i < 2; i++ {
		out, errOut, code := run(t, env, nil, "save", "--compress", "zstd")
		if code != 0 {
			t.Fatalf("save %d: exit %d", i, code)
		}
		s := parseSave(t, out)
		if !strings.Contains(out, `"object_lock_mode":"COMPLIANCE"`) || !strings.Contains(errOut, "object-locked (COMPLIANCE) until") {
			t.Fatalf("save does not say it locked the backup: %s\n%s", out, errOut)
		}
		saved = append(saved, s)
	}
	// prune --keep-last 1: the older backup is outside the policy, but
	// locked: kept, with the date, and the run succeeds.
	out, _, code := run(t, env, nil, "prune", "--keep-last", "1", "--dry-run")
	if code != 0 || !strings.Contains(out, "keep "+saved[0].Destination) || !strings.Contains(out, "object lock: kept until "+time.Now().Add(24*time.Hour).UTC().Format("2006-01-02")) {
		t.Fatalf("dry run (exit %d):\n%s", code, out)
	}
	out, _, code = run(t, env, nil, "prune", "--keep-last", "1")
	if code != 0 {
		t.Fatalf("prune of locked backups: exit %d\n%s", code, out)
	}
	key0 := strings.TrimPrefix(saved[0].Destination, "s3://"+locked+"/")
	if _, err := s3Client(t, s3srv).Stat(ctxT(t), locked, key0); err != nil {
		t.Fatalf("prune deleted a locked backup: %v", err)
	}
	if _, _, code := run(t, env, nil, "verify", saved[0].Destination); code != 0 {
		t.Fatal("the locked backup does not verify")
	}
	// gof3r rm cannot delete it either: on a versioned bucket, S3 (and
	// versitygw) hides it behind a delete marker, and keeps the locked
	// version, which gof3r says.
	rm := exec.Command(testkit.Build(t, "cronbox/gof3r"), "rm", saved[0].Destination)
	rm.Env = s3srv.Env()
	b, err := rm.CombinedOutput()
	if !strings.Contains(string(b), "locked") {
		t.Fatalf("gof3r rm of a locked backup: %v %s", err, b)
	}
	mc, _ := minio.New(s3srv.Host, &minio.Options{Creds: credentials.NewStaticV4(s3srv.AccessKey, s3srv.SecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	kept := false
	for v := range mc.ListObjects(ctxT(t), locked, minio.ListObjectsOptions{Prefix: key0, WithVersions: true}) {
		if v.Err != nil {
			t.Fatal(v.Err)
		}
		kept = kept || (v.Key == key0 && !v.IsDeleteMarker && v.Size == saved[0].StoredSize)
	}
	if !kept {
		t.Fatalf("the locked version of %s is gone after gof3r rm", key0)
	}
}

// --sse AES256 (and aws:kms with a key id) reaches every request that
// creates the object; versitygw ignores SSE, so a recording proxy in front
// of it shows the headers (the server still checks every signature).
func TestSSEHeaders(t *testing.T) {
	s3srv := testkit.Versitygw(t)
	bucket := s3srv.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	fill(t, src.Client(t), "/s/", 50, 19)
	target, _ := url.Parse(s3srv.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s %s sse=%q kms=%q", r.Method, r.URL.Path, r.Header.Get("X-Amz-Server-Side-Encryption"), r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")))
			mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	env := append(s3srv.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "AWS_S3_ENDPOINT="+proxy.URL)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sse", "AES256"}, `sse="AES256" kms=""`},
		{[]string{"--sse", "aws:kms", "--sse-kms-key-id", "alias/backups"}, `sse="aws:kms" kms="alias/backups"`},
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		// versitygw may refuse aws:kms; the request's headers are what is checked.
		run(t, env, nil, append([]string{"save", "s3://" + bucket + "/sse.db"}, tc.args...)...)
		mu.Lock()
		got := strings.Join(seen, "\n")
		mu.Unlock()
		if !strings.Contains(got, "/"+bucket+"/sse.db") || !strings.Contains(got, tc.want) {
			t.Errorf("%v: requests:\n%s\nwant the object's creation with %s", tc.args, got, tc.want)
		}
	}
	_ = io.Discard
}
