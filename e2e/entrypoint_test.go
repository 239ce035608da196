package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// entrypointCheck runs `entrypoint --check ARGS` in busybox sh with exactly
// env, the image's tools (the assembled rootfs's multicall binary) on PATH;
// no container is needed: --check only reads and renders templates.
func entrypointCheck(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	busybox := testkit.Need(t, "busybox")
	tools := filepath.Join(assembled(t), "usr/local/bin")
	cmdEnv := []string{"PATH=" + tools + ":/usr/bin:/bin", "CRONBOX_JOBS_DIR=../scripts", "HOME=" + t.TempDir()}
	for k, v := range env {
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	sort.Strings(cmdEnv)
	cmd := exec.Command(busybox, append([]string{"sh", "../scripts/entrypoint", "--check"}, args...)...)
	cmd.Env = cmdEnv
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// How the entrypoint reads the original variables' forms, as the tools'
// checks (etcd-backup check, es-snapshot check, go-cron --check) report them.
func TestEntrypointReadsOriginalForms(t *testing.T) {
	base := map[string]string{
		"GOCRON_SCHEDULE": "0 0 * * * *", "AWS_S3_BUCKET": "backups", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s",
	}
	cases := []struct {
		name string
		env  map[string]string
		want []string // in the output
	}{
		{"defaults of the original", map[string]string{},
			[]string{"(etcd-backup)", "save: etcd http://127.0.0.1:2379 -> s3://backups/etcd-backup/", "on https://s3-eu-west-1.amazonaws.com (region eu-west-1)", "prune: s3://backups/etcd-backup/: keep last 30, never fewer than 1 verified"}},
		{"quoted machines, leader first", map[string]string{"ETCD_MACHINES": `"http://10.0.0.1:2379", "http://10.0.0.2:2379"`, "ETCD_LEADER": "http://10.0.0.2:2379"},
			[]string{"save: etcd http://10.0.0.2:2379,http://10.0.0.1:2379"}},
		{"plain machines", map[string]string{"ETCD_MACHINES": "http://a:2379,http://b:2379"},
			[]string{"save: etcd http://a:2379,http://b:2379 ->"}},
		{"new-style endpoint host", map[string]string{"AWS_S3_ENDPOINT": "s3.us-west-2.amazonaws.com"},
			[]string{"on https://s3.us-west-2.amazonaws.com (region us-west-2)"}},
		{"local store URL", map[string]string{"AWS_S3_ENDPOINT": "http://127.0.0.1:7070"},
			[]string{"on http://127.0.0.1:7070 (region us-east-1)"}},
		{"explicit region wins", map[string]string{"AWS_S3_ENDPOINT": "minio.example:9000", "AWS_S3_REGION": "eu-central-1"},
			[]string{"on https://minio.example:9000 (region eu-central-1)"}},
		// Issue 13.2: the entrypoint exported a guessed AWS_S3_REGION, which
		// the S3 client reads before AWS_REGION: us-east-1 for the first
		// three, and it refused the dualstack endpoint.
		{"the user's AWS_REGION is kept", map[string]string{"AWS_S3_ENDPOINT": "http://127.0.0.1:7070", "AWS_REGION": "eu-central-1"},
			[]string{"on http://127.0.0.1:7070 (region eu-central-1)"}},
		{"China endpoint", map[string]string{"AWS_S3_ENDPOINT": "s3.cn-north-1.amazonaws.com.cn"},
			[]string{"on https://s3.cn-north-1.amazonaws.com.cn (region cn-north-1)"}},
		{"endpoint with :443", map[string]string{"AWS_S3_ENDPOINT": "s3.eu-west-1.amazonaws.com:443"},
			[]string{"on https://s3.eu-west-1.amazonaws.com:443 (region eu-west-1)"}},
		{"dualstack endpoint", map[string]string{"AWS_S3_ENDPOINT": "s3.dualstack.eu-west-1.amazonaws.com"},
			[]string{"on https://s3.dualstack.eu-west-1.amazonaws.com (region eu-west-1)"}},
		{"a region alone picks its AWS endpoint", map[string]string{"AWS_REGION": "ap-south-1"},
			[]string{"on https://s3.ap-south-1.amazonaws.com (region ap-south-1)"}},
		{"dump asked for by its key", map[string]string{"ETCD_KEY": "/registry/"},
			[]string{"dump: keys under /registry/ -> s3://backups/dump.json"}},
		{"original es job", map[string]string{"CRONJOB_COMMAND": "sh /jobs/elasticsearchbackupjob.sh"},
			[]string{"job elasticsearchbackupjob.sh (es-backup)", "repo ensure: repository default_repo, type s3 (bucket backups), on http://localhost:9200", "__ of all indices in default_repo"}},
		{"a command", map[string]string{"JOB": "echo hi | tr a-z A-Z"},
			[]string{"(command)", "-- /bin/sh -c echo hi | tr a-z A-Z"}},
		{"once, no schedule", map[string]string{"GOCRON_SCHEDULE": ""}, []string{"schedule once: go-cron --once --", "go-cron: ok: once"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			merged := map[string]string{}
			for k, v := range base {
				merged[k] = v
			}
			for k, v := range c.env {
				merged[k] = v
			}
			var args []string
			if c.name == "once, no schedule" {
				args = append(args, "--once")
			}
			out, err := entrypointCheck(t, merged, args...)
			if err != nil {
				t.Fatalf("entrypoint --check: %v\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TEMPLATES (issue 13.8): each glob is expanded once, by ep, so a file
// whose name holds glob characters is itself (before, "x[1].conf" was
// expanded again and rendered x1.conf twice, x[1].conf never); two
// templates with one name in different folders are refused, naming both
// (before, the second silently overwrote the first in the render dir).
func TestEntrypointTemplates(t *testing.T) {
	src := t.TempDir()
	for name, body := range map[string]string{
		"a/x1.conf": "one=${AWS_S3_BUCKET}\n", "a/x[1].conf": "bracket=${AWS_S3_BUCKET}\n",
		"b/app.conf": "b=${AWS_S3_BUCKET}\n", "c/app.conf": "c=${AWS_S3_BUCKET}\n",
	} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(templates, render string) map[string]string {
		return map[string]string{"JOB": "true", "GOCRON_SCHEDULE": "@hourly", "AWS_S3_BUCKET": "bkt", "TEMPLATES": templates, "CRONBOX_RENDER_DIR": render}
	}
	render := filepath.Join(t.TempDir(), "render")
	if out, err := entrypointCheck(t, env(filepath.Join(src, "a/*.conf"), render)); err != nil {
		t.Fatalf("entrypoint --check: %v\n%s", err, out)
	}
	for name, want := range map[string]string{"x1.conf": "one=bkt\n", "x[1].conf": "bracket=bkt\n"} {
		if b, err := os.ReadFile(filepath.Join(render, name)); err != nil || string(b) != want {
			t.Errorf("%s in the render dir: %q, %v; want %q", name, b, err, want)
		}
	}

	render = filepath.Join(t.TempDir(), "render")
	out, err := entrypointCheck(t, env(filepath.Join(src, "b/*.conf")+" "+filepath.Join(src, "c/*.conf"), render))
	want := "cronbox: TEMPLATES: " + filepath.Join(src, "b/app.conf") + " and " + filepath.Join(src, "c/app.conf") + " would both be rendered to " + filepath.Join(render, "app.conf")
	if err == nil || !strings.Contains(out, want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("two templates named app.conf: %v\n%s\nwant exit 2 and one line with %q", err, out, want)
	}
	if _, err := os.Stat(filepath.Join(render, "app.conf")); !os.IsNotExist(err) {
		t.Errorf("a refused start rendered app.conf: %v", err)
	}
}

// Issue 13.2 end to end: an S3 server that accepts only signatures for
// eu-central-1, and a user who says so with AWS_REGION. The old entrypoint
// exported a guessed AWS_S3_REGION=us-east-1, which the S3 client reads
// before AWS_REGION, so every backup failed (HTTP 400, "the region
// us-east-1 is wrong"). Now the job's one S3 client resolves the region.
func TestEtcdBackupSignsForTheUsersRegion(t *testing.T) {
	t.Setenv("VGW_REGION", "eu-central-1") // versitygw's --region, inherited by the server only
	srv := testkit.Versitygw(t)
	os.Unsetenv("VGW_REGION")
	bucket := srv.Bucket(t, "regional")
	src := etcdtest.Embed(t, etcdtest.Options{})
	ct := Start(t, map[string]string{
		"JOB":                   "etcd-backup",
		"ETCD_ENDPOINTS":        src.Endpoint,
		"AWS_S3_BUCKET":         bucket,
		"AWS_S3_ENDPOINT":       srv.Endpoint,
		"AWS_REGION":            "eu-central-1",
		"AWS_ACCESS_KEY_ID":     srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY": srv.SecretKey,
	}, "--once")
	if code := ct.Wait(t, 120*time.Second); code != 0 {
		t.Fatalf("exit status %d, want 0:\n%s", code, ct.Logs())
	}
	backups, _ := filepath.Glob(filepath.Join(srv.Dir, bucket, "etcd-backup", "*.db"))
	if len(backups) != 1 {
		t.Fatalf("backups in the bucket: %v\n%s", backups, ct.Logs())
	}
}
