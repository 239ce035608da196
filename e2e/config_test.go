package e2e

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// etcdEnv is a complete, valid etcd-backup configuration (nothing listens
// at these addresses: these tests stop before a run).
func etcdEnv() map[string]string {
	return map[string]string{
		"JOB":                   "etcd-backup",
		"GOCRON_SCHEDULE":       "@every 1h",
		"AWS_S3_BUCKET":         "backups",
		"AWS_S3_ENDPOINT":       "http://127.0.0.1:9",
		"AWS_ACCESS_KEY_ID":     "access",
		"AWS_SECRET_ACCESS_KEY": "secret-value",
		"ETCD_ENDPOINTS":        "http://127.0.0.1:9",
	}
}

func with(env map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(env, kv[i])
		} else {
			env[kv[i]] = kv[i+1]
		}
	}
	return env
}

// A missing or malformed variable stops the container at start: exit 2 and
// one line naming the variable.
func TestStartRefusesBadConfiguration(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string // in the message
	}{
		{"bucket missing", with(etcdEnv(), "AWS_S3_BUCKET", "<unset>"), "AWS_S3_BUCKET is not set"},
		{"bucket malformed", with(etcdEnv(), "AWS_S3_BUCKET", "My_Bucket"), "AWS_S3_BUCKET=My_Bucket"},
		{"secret missing", with(etcdEnv(), "AWS_SECRET_ACCESS_KEY", "<unset>"), "AWS_SECRET_ACCESS_KEY: not set"},
		{"secret file unreadable", with(etcdEnv(), "AWS_SECRET_ACCESS_KEY", "<unset>", "AWS_SECRET_ACCESS_KEY_FILE", "/run/secrets/nope"), "AWS_SECRET_ACCESS_KEY_FILE: open /run/secrets/nope"},
		{"secret and its file", with(etcdEnv(), "AWS_SECRET_ACCESS_KEY_FILE", "/etc/passwd"), "AWS_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY_FILE: give one of them"},
		{"schedule missing", with(etcdEnv(), "GOCRON_SCHEDULE", "<unset>"), "GOCRON_SCHEDULE is not set"},
		{"schedule malformed", with(etcdEnv(), "GOCRON_SCHEDULE", "61 * * * * *"), "GOCRON_SCHEDULE"},
		{"endpoint scheme", with(etcdEnv(), "AWS_S3_ENDPOINT", "ftp://s3.example.com"), `AWS_S3_ENDPOINT: endpoint "ftp://s3.example.com"`},
		{"endpoint host", with(etcdEnv(), "AWS_S3_ENDPOINT", "s3 example com"), `AWS_S3_ENDPOINT: endpoint "s3 example com"`},
		{"region", with(etcdEnv(), "AWS_S3_REGION", "EU West"), `AWS_S3_REGION="EU West"`},
		{"etcd machines", with(etcdEnv(), "ETCD_ENDPOINTS", "<unset>", "ETCD_MACHINES", `"10.0.0.1:2379"`), "ETCD_MACHINES"},
		{"retention", with(etcdEnv(), "ETCD_KEEP_LAST", "-3"), "ETCD_KEEP_LAST"},
		{"min keep 0", with(etcdEnv(), "ETCD_MIN_KEEP", "0"), "--min-keep (ETCD_MIN_KEEP) 0"},
		{"unknown job", with(etcdEnv(), "JOB", "nosuchjob"), "JOB=nosuchjob"},
		{"unknown original job", with(etcdEnv(), "JOB", "<unset>", "CRONJOB_COMMAND", "backup.sh"), "CRONJOB_COMMAND=backup.sh"},
		{"es url", map[string]string{"JOB": "es-backup", "GOCRON_SCHEDULE": "@hourly", "ES_HOST_URL": "localhost:9200"}, `ES_HOST_URL: server URL "localhost:9200"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ct := Start(t, c.env)
			if code := ct.Wait(t, 60*time.Second); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			logs := ct.Logs()
			if !strings.Contains(logs, c.want) {
				t.Errorf("output does not name the variable (%q):\n%s", c.want, logs)
			}
			if strings.Contains(logs, "secret-value") {
				t.Errorf("the secret's value is in the output:\n%s", logs)
			}
		})
	}
}

// Any command is a job, and it runs under go-cron as PID 1, as the image's
// non-root user; the status port reports it.
func TestCommandJobRunsUnderGoCronAsPID1(t *testing.T) {
	ct := Start(t, map[string]string{
		"JOB":             `printf 'pid1=%s uid=%s\n' "$(cat /proc/1/comm)" "$(id -u)"`,
		"GOCRON_SCHEDULE": "@every 1s",
	})
	code, doc, body := ct.WaitRun(t, 60*time.Second)
	if code != http.StatusOK || doc.Last.Exit_status != 0 {
		t.Fatalf("status %d, exit %d: %s", code, doc.Last.Exit_status, body)
	}
	if !strings.Contains(doc.Last.Stdout, "pid1=go-cron uid=10001") {
		t.Errorf("Last.Stdout %q: want go-cron as PID 1 and uid 10001", doc.Last.Stdout)
	}
	if doc.Schedule != "@every 1s" {
		t.Errorf("Schedule %q", doc.Schedule)
	}
	ct.Signal(t, 15)
	if status := ct.Wait(t, 15*time.Second); status != 0 {
		t.Errorf("exit status %d after SIGTERM with a good last run, want 0", status)
	}
}

// The original variables: CRONJOB_COMMAND picks the job, and a failing run
// answers 503 with the job's stderr.
func TestFailingJobAnswers503(t *testing.T) {
	ct := Start(t, map[string]string{
		"CRONJOB_COMMAND": "echo the-reason >&2; exit 3",
		"GOCRON_SCHEDULE": "*/1 * * * * *",
	})
	code, doc, body := ct.WaitRun(t, 60*time.Second)
	if code != http.StatusServiceUnavailable || doc.Last.Exit_status != 3 || !strings.Contains(doc.Last.Stderr, "the-reason") {
		t.Fatalf("status %d, want 503 with exit 3 and the reason in Last.Stderr: %s", code, body)
	}
	// busybox wget (what a check inside the image would use) fails on the
	// 503. The HEALTHCHECK passing meanwhile is TestImageHealthcheck's.
	if err := exec.Command(filepath.Join(ct.Dir, "bin/busybox"), "wget", "-q", "-O", "/dev/null", ct.Status+"/").Run(); err == nil {
		t.Errorf("busybox wget on / succeeded while the last run failed")
	}
}

// TEMPLATES are rendered with ep before the start, into /tmp/cronbox (the
// originals may be read-only mounts); a variable nobody set stops the start.
func TestTemplates(t *testing.T) {
	t.Run("rendered", func(t *testing.T) {
		t.Parallel()
		ct := StartWithFiles(t, map[string]string{
			"JOB":             "cat /tmp/cronbox/repo.json",
			"GOCRON_SCHEDULE": "@every 1s",
			"TEMPLATES":       "/etc/cronbox/*.json",
			"AWS_S3_BUCKET":   "tmpl-bucket",
		}, map[string]string{"/etc/cronbox/repo.json": `{"bucket":"${AWS_S3_BUCKET}","base":"${BASE:-root}"}`})
		code, doc, body := ct.WaitRun(t, 60*time.Second)
		if code != http.StatusOK || !strings.Contains(doc.Last.Stdout, `{"bucket":"tmpl-bucket","base":"root"}`) {
			t.Fatalf("status %d, want 200 with the rendered template in Last.Stdout: %s", code, body)
		}
	})
	t.Run("unset variable", func(t *testing.T) {
		t.Parallel()
		ct := StartWithFiles(t, map[string]string{
			"JOB":             "true",
			"GOCRON_SCHEDULE": "@every 1s",
			"TEMPLATES":       "/etc/cronbox/*.json",
		}, map[string]string{"/etc/cronbox/repo.json": "{\n  \"x\": \"${NOT_SET_ANYWHERE}\"\n}\n"})
		if code := ct.Wait(t, 60*time.Second); code != 2 {
			t.Errorf("exit status %d, want 2", code)
		}
		if !strings.Contains(ct.Logs(), "NOT_SET_ANYWHERE") {
			t.Errorf("the output does not name the variable:\n%s", ct.Logs())
		}
	})
}

// --once (the Kubernetes CronJob variant): no schedule needed, go-cron runs
// the job once and exits with its status. The job here asks every tool
// symlink for its version: the multicall binary dispatches on argv[0] and
// carries the version `make rootfs` stamped in.
func TestOnceExitsWithTheJobsStatus(t *testing.T) {
	t.Run("good", func(t *testing.T) {
		t.Parallel()
		ct := Start(t, map[string]string{
			// Each line in one write: go-cron's own log lines share the
			// output, and "run started" may land between two writes.
			"JOB": `for t in go-cron gof3r etcd-backup es-snapshot ep; do v=$("$t" --version 2>&1 | head -1) || exit 1; echo "$t: $v"; done`,
		}, "--once")
		if code := ct.Wait(t, 60*time.Second); code != 0 {
			t.Fatalf("exit status %d, want 0:\n%s", code, ct.Logs())
		}
		for _, tool := range []string{"go-cron", "gof3r", "etcd-backup", "es-snapshot", "ep"} {
			if !regexp.MustCompile(`(?m)^` + tool + `: .*\be2e\b`).MatchString(ct.Logs()) {
				t.Errorf("%s --version does not report the stamped version e2e:\n%s", tool, ct.Logs())
			}
		}
	})
	t.Run("failing", func(t *testing.T) {
		t.Parallel()
		ct := Start(t, map[string]string{"JOB": "exit 4"}, "--once")
		if code := ct.Wait(t, 60*time.Second); code != 4 {
			t.Errorf("exit status %d, want the job's 4:\n%s", code, ct.Logs())
		}
	})
}
