package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// waitBackup waits for an etcd snapshot under prefix in bucket and returns
// its key.
func waitBackup(t *testing.T, srv *testkit.S3Server, bucket, prefix string) string {
	t.Helper()
	client := s3Client(t, srv)
	var key string
	testkit.WaitFor(t, 90*time.Second, "a backup in s3://"+bucket+"/"+prefix, func() error {
		objs, err := client.List(ctx(t), bucket, prefix)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `\d{8}T\d{6}\.\d{3}Z\.db$`).MatchString(o.Key) {
				key = o.Key
				return nil
			}
		}
		return testkit.ErrNotYet
	})
	return key
}

// The image with only the original image's variables (CRONJOB_COMMAND,
// the quoted ETCD_MACHINES list, AWS_*) and the original go-cron's -p
// argument: a backup lands, `/` answers 200, the HEALTHCHECK passes
// although the status port moved where it cannot see (an argument of PID
// 1), and `podman stop` (STOPSIGNAL SIGTERM) ends it with go-cron's own
// exit status.
func TestImageWithTheOriginalVariables(t *testing.T) {
	t.Parallel()
	p := Engine(t)
	srv := testkit.Versitygw(t)
	bucket := srv.Bucket(t, "original")
	src := etcdtest.Embed(t, etcdtest.Options{})
	putKeys(t, src, "/orig/", 50)
	port := testkit.FreePort(t)
	c := p.StartImage(t, nil, map[string]string{
		"GOCRON_SCHEDULE":       "*/2 * * * * *",
		"CRONJOB_COMMAND":       "etcdbackupjob.sh",
		"ETCD_MACHINES":         fmt.Sprintf(`"%s","%s"`, src.Endpoint, src.Endpoint),
		"AWS_ACCESS_KEY_ID":     srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY": srv.SecretKey,
		"AWS_S3_BUCKET":         bucket,
		"AWS_S3_ENDPOINT":       srv.Endpoint,
	}, "-p", strconv.Itoa(port))
	c.Status = statusAt(port)

	key := waitBackup(t, srv, bucket, "etcd-backup/")
	doc := c.WaitStatus(t, http.StatusOK)
	if doc.Last.Exit_status != 0 {
		t.Errorf("Last.Exit_status %d after a good run", doc.Last.Exit_status)
	}
	t.Logf("backup %s; HEALTHCHECK: %s", key, c.WaitHealthy(t))
	// What the engine made of the Dockerfile: one layer (FROM scratch plus
	// the rootfs), the status port exposed, the version label stamped.
	img := strings.Fields(p.Must(t, "image", "inspect", "--format",
		`{{len .RootFS.Layers}} {{range $k, $v := .Config.ExposedPorts}}{{$k}}{{end}} {{index .Config.Labels "org.opencontainers.image.version"}}`, p.Image))
	if strings.Join(img, " ") != "1 18080/tcp "+imageVersion {
		t.Errorf("image: layers, exposed ports, version label = %q; want 1 18080/tcp %s", img, imageVersion)
	}

	start := time.Now()
	p.Must(t, "stop", "--time", "30", c.Name)
	code := c.Inspect(t, "{{.State.ExitCode}}")
	t.Logf("podman stop: %s, exit status %s", time.Since(start).Round(time.Millisecond), code)
	// go-cron's own exit: 0 when the last run succeeded, 1 when the stop
	// cut one short (a run every 2 s may be under way); never the
	// engine's SIGKILL.
	logs := c.Logs(t)
	want := map[bool]string{true: "0", false: "1"}[strings.Contains(logs, "stopped; the last run succeeded")]
	if code != want || !strings.Contains(logs, "signal=SIGTERM") {
		t.Errorf("exit status %s, want %s, after a logged SIGTERM:\n%s", code, want, logs)
	}
}

// Hardened as the deploy files run it: secrets as mounted files (*_FILE), a
// read-only root filesystem with a tmpfs /tmp, every capability dropped, no
// new privileges, uid 10001, and the status port moved by
// GOCRON_STATUS_ADDR: a backup lands and the HEALTHCHECK follows the port.
func TestImageHardened(t *testing.T) {
	t.Parallel()
	p := Engine(t)
	srv := testkit.Versitygw(t)
	bucket := srv.Bucket(t, "hardened")
	src := etcdtest.Embed(t, etcdtest.Options{})
	putKeys(t, src, "/hard/", 20)
	secrets := t.TempDir()
	for name, value := range map[string]string{"aws_access_key_id": srv.AccessKey, "aws_secret_access_key": srv.SecretKey} {
		f := filepath.Join(secrets, name)
		if err := os.WriteFile(f, []byte(value+"\n"), 0o400); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(f, 10001, 10001); err != nil {
			t.Fatal(err)
		}
	}
	port := testkit.FreePort(t)
	c := p.StartImage(t, []string{
		"--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"-v", filepath.Join(secrets, "aws_access_key_id") + ":/run/secrets/aws_access_key_id:ro",
		"-v", filepath.Join(secrets, "aws_secret_access_key") + ":/run/secrets/aws_secret_access_key:ro",
	}, map[string]string{
		"JOB":                        "etcd-backup",
		"GOCRON_SCHEDULE":            "*/2 * * * * *",
		"GOCRON_STATUS_ADDR":         "127.0.0.1:" + strconv.Itoa(port),
		"ETCD_ENDPOINTS":             src.Endpoint,
		"AWS_S3_BUCKET":              bucket,
		"AWS_S3_ENDPOINT":            srv.Endpoint,
		"AWS_ACCESS_KEY_ID_FILE":     "/run/secrets/aws_access_key_id",
		"AWS_SECRET_ACCESS_KEY_FILE": "/run/secrets/aws_secret_access_key",
	})
	c.Status = statusAt(port)
	waitBackup(t, srv, bucket, "etcd-backup/")
	c.WaitStatus(t, http.StatusOK)
	t.Logf("HEALTHCHECK: %s", c.WaitHealthy(t))

	out, err := c.Exec(t, "sh", "-c", `id -un; id -u; id -g; grep CapEff /proc/1/status; cat /proc/1/comm; touch /probe 2>&1 || echo read-only`)
	if err != nil {
		t.Fatalf("podman exec: %v\n%s", err, out)
	}
	for _, want := range []string{"cronbox\n10001\n10001\n", "CapEff:\t0000000000000000", "go-cron", "read-only"} {
		if !strings.Contains(out, want) {
			t.Errorf("in the container: want %q in:\n%s", want, out)
		}
	}
	for _, where := range []string{c.Inspect(t, "{{json .Config.Env}}"), c.Logs(t)} {
		if strings.Contains(where, srv.SecretKey) {
			t.Errorf("the secret is visible outside its file: %s", where)
		}
	}
}

// The HEALTHCHECK as the engine runs it: it passes with the status port
// off (a supported setting), passes while the last run failed (a failed
// backup is not a dead container; `/` says 503 for alerting), and fails
// when nothing answers where the check looks.
func TestImageHealthcheck(t *testing.T) {
	t.Run("status port off", func(t *testing.T) {
		t.Parallel()
		c := Engine(t).StartImage(t, nil, map[string]string{"JOB": "true", "GOCRON_SCHEDULE": "@every 1h", "GOCRON_STATUS_ADDR": "off"})
		if out := c.WaitHealthy(t); !strings.Contains(out, "off") {
			t.Errorf("HEALTHCHECK output %q: want it to say the status port is off", out)
		}
	})
	t.Run("failed run, then nothing answering", func(t *testing.T) {
		t.Parallel()
		port := testkit.FreePort(t)
		c := Engine(t).StartImage(t, nil, map[string]string{
			"JOB": "echo the-reason >&2; exit 3", "GOCRON_SCHEDULE": "*/1 * * * * *",
		}, "-p", strconv.Itoa(port))
		c.Status = statusAt(port)
		doc := c.WaitStatus(t, http.StatusServiceUnavailable)
		if doc.Last.Exit_status != 3 || !strings.Contains(doc.Last.Stderr, "the-reason") {
			t.Errorf("Last %+v: want exit 3 with the reason", doc.Last)
		}
		c.WaitHealthy(t)
		// Point the check at a port where nothing listens, as a go-cron that
		// stopped serving would look: the check must fail, naming the URL.
		if out, err := c.Exec(t, "sh", "-c", "echo 127.0.0.1:1 > /tmp/go-cron.status"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		ok, out := c.Health(t)
		if ok || !strings.Contains(out, "http://127.0.0.1:1/healthz") {
			t.Errorf("HEALTHCHECK passed (%v) or did not name the URL: %q", ok, out)
		}
	})
}

// `podman stop` while a job uploads: go-cron passes SIGTERM on, the
// upload is aborted, and the container exits by itself, well before the
// engine's 30 s would SIGKILL it (exit 137), leaving neither an object nor
// a multipart upload.
func TestImageStopDuringUpload(t *testing.T) {
	t.Parallel()
	p := Engine(t)
	srv := testkit.Versitygw(t)
	bucket := srv.Bucket(t, "stopped")
	port := testkit.FreePort(t)
	c := p.StartImage(t, nil, map[string]string{
		// 3 GB of zeros: long enough to be cut.
		"JOB":                   "dd if=/dev/zero bs=1M count=3000 2>/dev/null | gof3r put -b " + bucket + " -k big.bin",
		"GOCRON_SCHEDULE":       "@every 1h",
		"GOCRON_STATUS_ADDR":    "127.0.0.1:" + strconv.Itoa(port),
		"AWS_S3_ENDPOINT":       srv.Endpoint,
		"AWS_ACCESS_KEY_ID":     srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY": srv.SecretKey,
	}, "--run-on-start")
	client := s3Client(t, srv)
	testkit.WaitFor(t, 90*time.Second, "a multipart upload under way", func() error {
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
	p.Must(t, "stop", "--time", "30", c.Name)
	took := time.Since(start)
	code := c.Inspect(t, "{{.State.ExitCode}}")
	t.Logf("podman stop took %s; exit status %s", took.Round(time.Millisecond), code)
	if code == "137" {
		t.Errorf("the engine had to SIGKILL the container (exit 137)")
	}
	if logs := c.Logs(t); !strings.Contains(logs, "stopping") {
		t.Errorf("go-cron did not log its shutdown:\n%s", logs)
	}
	if ups, err := client.ListMultipartUploads(ctx(t), bucket, ""); err != nil || len(ups) != 0 {
		t.Errorf("multipart uploads left: %q (%v)", ups, err)
	}
	if objs, err := client.List(ctx(t), bucket, ""); err != nil || len(objs) != 0 {
		t.Errorf("objects left in the bucket: %v (%v)", objs, err)
	}
}
