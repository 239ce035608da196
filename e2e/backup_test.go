package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/gof3r/s3"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
	"cronbox/testkit/opensearchtest"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// s3Client talks to the test's versitygw the way the tools do.
func s3Client(t *testing.T, srv *testkit.S3Server) *s3.Client {
	t.Helper()
	c, err := s3.New(s3.Config{Endpoint: srv.Endpoint, Region: "us-east-1", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// putKeys writes n keys under prefix and returns them with their values.
func putKeys(t *testing.T, e *etcdtest.Embedded, prefix string, n int) map[string]string {
	t.Helper()
	cli := e.Client(t)
	want := map[string]string{}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%skey-%04d", prefix, i)
		v := strings.Repeat(fmt.Sprintf("value-%d;", i), 1+i%50)
		if _, err := cli.Put(ctx(t), k, v); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	return want
}

// A good etcd backup, configured with the original image's variables
// (CRONJOB_COMMAND, the quoted ETCD_MACHINES list, ETCD_LEADER, ETCD_KEY,
// ETCD_DUMP_FILENAME): 200, and the object in the bucket restores into a
// fresh etcd with the same keys and values.
func TestEtcdBackupRestores(t *testing.T) {
	t.Parallel()
	srv := testkit.Versitygw(t)
	bucket := srv.Bucket(t, "etcd-backups")
	src := etcdtest.Embed(t, etcdtest.Options{})
	want := putKeys(t, src, "/e2e/", 300)

	ct := Start(t, map[string]string{
		"CRONJOB_COMMAND":       "etcdbackupjob.sh",
		"GOCRON_SCHEDULE":       "*/3 * * * * *",
		"ETCD_MACHINES":         fmt.Sprintf(`"%s","%s"`, src.Endpoint, src.Endpoint),
		"ETCD_LEADER":           src.Endpoint,
		"ETCD_KEY":              "/e2e/",
		"ETCD_DUMP_FILENAME":    "dump.json",
		"AWS_S3_BUCKET":         bucket,
		"AWS_S3_ENDPOINT":       srv.Endpoint,
		"AWS_ACCESS_KEY_ID":     srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY": srv.SecretKey,
	})
	code, doc, body := ct.WaitRun(t, 90*time.Second)
	if code != http.StatusOK || doc.Last.Exit_status != 0 {
		t.Fatalf("status %d, want 200 after a good run: %s", code, body)
	}
	for _, step := range []string{"1/3 save", "2/3 verify", "3/3 prune", "dump /e2e/", "done"} {
		if !strings.Contains(doc.Last.Stdout, "etcd-backup: "+step) {
			t.Errorf("Last.Stdout has no progress line %q:\n%s", step, doc.Last.Stdout)
		}
	}
	// The job reported its backup (GOCRON_RESULT_FILE): the last good one.
	var good struct {
		LastGood struct {
			Report struct {
				Location string
				Size     int64
				Verified bool
			}
		}
	}
	if err := json.Unmarshal(body, &good); err != nil || !strings.HasPrefix(good.LastGood.Report.Location, "s3://"+bucket+"/etcd-backup/") ||
		good.LastGood.Report.Size == 0 || !good.LastGood.Report.Verified {
		t.Errorf("LastGood %+v (%v): %s", good.LastGood, err, body)
	}
	ct.Signal(t, syscall.SIGTERM)
	ct.Wait(t, 30*time.Second)

	client := s3Client(t, srv)
	objs, err := client.List(ctx(t), bucket, "etcd-backup/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("no backup under s3://%s/etcd-backup/", bucket)
	}
	name := regexp.MustCompile(`^etcd-backup/\d{8}T\d{6}\.\d{3}Z\.db$`)
	for _, o := range objs {
		if !name.MatchString(o.Key) {
			t.Errorf("unexpected object %s under the prefix", o.Key)
		}
	}
	if _, err := client.Stat(ctx(t), bucket, "dump.json"); err != nil {
		t.Errorf("the original logical dump s3://%s/dump.json: %v", bucket, err)
	}

	// Restore the first backup with the real CLI into a fresh data dir and
	// start etcd on it.
	peer := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	dataDir := filepath.Join(t.TempDir(), "restored")
	restore := exec.Command(testkit.Build(t, "cronbox/etcd-backup"), "restore",
		"s3://"+bucket+"/"+objs[0].Key, "--data-dir", dataDir, "--name", "restored",
		"--initial-advertise-peer-urls", peer)
	restore.Env = append(os.Environ(), srv.Env()...)
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("etcd-backup restore: %v\n%s", err, out)
	}
	dst := etcdtest.Embed(t, etcdtest.Options{Dir: dataDir, Name: "restored", PeerURL: peer})
	resp, err := dst.Client(t).Get(ctx(t), "/e2e/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	if len(got) != len(want) {
		t.Fatalf("restored %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("restored %s = %.40q, want %.40q", k, got[k], v)
		}
	}
}

// The S3 secret is a mounted file (AWS_SECRET_ACCESS_KEY_FILE), read at each
// run. Changed to a wrong one, the next run fails: 503 with the S3 error in
// Last.Stderr, and neither secret anywhere in the JSON, the logs or a
// command line.
func TestS3SecretChangedAnswers503(t *testing.T) {
	t.Parallel()
	srv := testkit.Versitygw(t)
	bucket := srv.Bucket(t, "rotated")
	src := etcdtest.Embed(t, etcdtest.Options{})
	putKeys(t, src, "/k/", 10)
	const secretFile = "/run/secrets/aws-secret"
	wrong := "wrong-secret-canary-5b1e77c2d9"

	ct := StartWithFiles(t, map[string]string{
		"JOB":                        "etcd-backup",
		"GOCRON_SCHEDULE":            "*/2 * * * * *",
		"ETCD_ENDPOINTS":             src.Endpoint,
		"AWS_S3_BUCKET":              bucket,
		"AWS_S3_ENDPOINT":            srv.Endpoint,
		"AWS_ACCESS_KEY_ID":          srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY_FILE": secretFile,
	}, map[string]string{secretFile: srv.SecretKey + "\n"})
	code, _, body := ct.WaitRun(t, 90*time.Second)
	if code != http.StatusOK {
		t.Fatalf("status %d before the change, want 200: %s", code, body)
	}

	ct.WriteFile(t, secretFile, wrong+"\n")
	var doc StatusDoc
	testkit.WaitFor(t, 60*time.Second, "a run with the changed secret to fail", func() error {
		code, body, err := ct.Get("/")
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable {
			return fmt.Errorf("status %d: %w", code, testkit.ErrNotYet)
		}
		doc = StatusDoc{}
		if err := json.Unmarshal(body, &doc); err != nil {
			return err
		}
		for _, s := range []string{wrong, srv.SecretKey} {
			if strings.Contains(string(body), s) {
				t.Fatalf("a secret is in the status JSON: %s", body)
			}
		}
		return nil
	})
	if !regexp.MustCompile(`SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId|403`).MatchString(doc.Last.Stderr) {
		t.Errorf("Last.Stderr does not carry the S3 error:\n%s", doc.Last.Stderr)
	}
	if _, metrics, err := ct.Get("/metrics"); err != nil || strings.Contains(string(metrics), wrong) || strings.Contains(string(metrics), srv.SecretKey) {
		t.Errorf("/metrics: %v, or it holds a secret", err)
	}
	for _, cl := range ct.Cmdlines(t) {
		if strings.Contains(cl, wrong) || strings.Contains(cl, srv.SecretKey) {
			t.Errorf("a secret is on a command line: %q", cl)
		}
	}
	ct.Signal(t, syscall.SIGTERM)
	ct.Wait(t, 30*time.Second)
	for _, s := range []string{wrong, srv.SecretKey} {
		if strings.Contains(ct.Logs(), s) {
			t.Errorf("a secret is in the container's output")
		}
	}
}

// SIGTERM while an upload is under way: go-cron forwards it to the job, the
// upload is aborted, and the container exits by itself within the grace
// period, leaving neither an object nor a multipart upload behind. Once with
// the etcd-backup job (a 12 MB database read at 2 MB/s, so the save is cut
// mid-stream), once with a plain gof3r stream.
func TestSIGTERMMidUploadLeavesNothing(t *testing.T) {
	const grace = 10 * time.Second
	cases := []struct {
		name string
		env  func(t *testing.T, bucket string) map[string]string
	}{
		{"etcd-backup job", func(t *testing.T, bucket string) map[string]string {
			src := etcdtest.Embed(t, etcdtest.Options{})
			cli := src.Client(t)
			value := strings.Repeat("x", 100<<10)
			for i := 0; i < 120; i++ {
				if _, err := cli.Put(ctx(t), fmt.Sprintf("/big/%03d", i), value); err != nil {
					t.Fatal(err)
				}
			}
			return map[string]string{
				"JOB":                    "etcd-backup",
				"ETCD_ENDPOINTS":         src.Endpoint,
				"AWS_S3_BUCKET":          bucket,
				"ETCD_BACKUP_RATE_LIMIT": "2M",
			}
		}},
		{"gof3r stream", func(t *testing.T, bucket string) map[string]string {
			// 3 GB of zeros: long enough to be cut.
			return map[string]string{"JOB": "dd if=/dev/zero bs=1M count=3000 2>/dev/null | gof3r put -b " + bucket + " -k big.bin"}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := testkit.Versitygw(t)
			bucket := srv.Bucket(t, "interrupted")
			env := c.env(t, bucket)
			env["GOCRON_SCHEDULE"] = "@every 1h"
			env["AWS_S3_ENDPOINT"] = srv.Endpoint
			env["AWS_ACCESS_KEY_ID"] = srv.AccessKey
			env["AWS_SECRET_ACCESS_KEY"] = srv.SecretKey
			ct := Start(t, env, "--run-on-start", "--grace", grace.String())
			client := s3Client(t, srv)
			testkit.WaitFor(t, 60*time.Second, "a multipart upload under way", func() error {
				if ct.Exited() {
					t.Fatalf("the container exited before the upload started")
				}
				ups, err := client.ListMultipartUploads(ctx(t), bucket, "")
				if err != nil {
					return err
				}
				if len(ups) == 0 {
					return testkit.ErrNotYet
				}
				return nil
			})
			start := time.Now()
			ct.Signal(t, syscall.SIGTERM)
			status := ct.Wait(t, grace+5*time.Second)
			took := time.Since(start)
			t.Logf("exited %d after %s", status, took.Round(time.Millisecond))
			if took > grace {
				t.Errorf("exit took %s, longer than the grace period %s", took, grace)
			}
			if !strings.Contains(ct.Logs(), "stopping") {
				t.Errorf("go-cron did not log its shutdown:\n%s", ct.Logs())
			}
			ups, err := client.ListMultipartUploads(ctx(t), bucket, "")
			if err != nil || len(ups) != 0 {
				t.Errorf("multipart uploads left: %q (%v)", ups, err)
			}
			objs, err := client.List(ctx(t), bucket, "")
			if err != nil || len(objs) != 0 {
				var keys []string
				for _, o := range objs {
					keys = append(keys, o.Key)
				}
				t.Errorf("objects left in the bucket: %q (%v)", keys, err)
			}
		})
	}
}

// A good es-backup run against a real OpenSearch node, configured with the
// original variables (CRONJOB_COMMAND=elasticsearchbackupjob.sh,
// ES_HOST_URL, ES_REPOSITORY, ES_SNAPSHOTNAME): 200, and the snapshot is
// SUCCESS under the original name pattern.
func TestESBackup(t *testing.T) {
	t.Parallel()
	node := opensearchtest.New(t, opensearchtest.Options{})
	for _, idx := range []string{"e2e-a", "e2e-b"} {
		if err := node.IndexDocs(ctx(t), idx, 200); err != nil {
			t.Fatal(err)
		}
	}
	ct := Start(t, map[string]string{
		"CRONJOB_COMMAND":    "elasticsearchbackupjob.sh",
		"GOCRON_SCHEDULE":    "@every 1h",
		"ES_HOST_URL":        node.URL,
		"ES_REPOSITORY":      "e2e_repo",
		"ES_SNAPSHOTNAME":    "nightly",
		"ES_REPOSITORY_TYPE": "fs",
		"ES_FS_LOCATION":     filepath.Join(node.Repo, "e2e"),
	}, "--run-on-start")
	code, doc, body := ct.WaitRun(t, 3*time.Minute)
	if code != http.StatusOK || doc.Last.Exit_status != 0 {
		t.Fatalf("status %d, want 200 after a good run: %s", code, body)
	}
	var snaps struct {
		Snapshots []struct {
			Snapshot string `json:"snapshot"`
			State    string `json:"state"`
			Indices  []string
		} `json:"snapshots"`
	}
	if err := node.JSON(ctx(t), "GET", "/_snapshot/e2e_repo/_all", nil, &snaps); err != nil {
		t.Fatal(err)
	}
	if len(snaps.Snapshots) != 1 {
		t.Fatalf("%d snapshots, want 1: %+v", len(snaps.Snapshots), snaps)
	}
	s := snaps.Snapshots[0]
	sort.Strings(s.Indices)
	if !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}_nightly$`).MatchString(s.Snapshot) || s.State != "SUCCESS" ||
		!strings.Contains(strings.Join(s.Indices, ","), "e2e-a,e2e-b") {
		t.Errorf("snapshot %+v: want SUCCESS, named DATE_nightly, with e2e-a and e2e-b", s)
	}
}
