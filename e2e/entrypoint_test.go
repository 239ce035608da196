package e2e

import (
	"os/exec"
	"sort"
	"strings"
	"testing"

	"cronbox/testkit"
)

// How the entrypoint reads the original variables' forms, checked with
// `entrypoint --check` in busybox sh (no container needed: it only reads).
func TestEntrypointReadsOriginalForms(t *testing.T) {
	busybox := testkit.Need(t, "busybox")
	base := map[string]string{
		"GOCRON_SCHEDULE": "0 0 * * * *", "AWS_S3_BUCKET": "backups", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s",
	}
	cases := []struct {
		name string
		env  map[string]string
		want []string // lines of the output
	}{
		{"defaults of the original", map[string]string{},
			[]string{"(etcd-backup)", "ETCD_ENDPOINTS=http://localhost:2379", "AWS_S3_ENDPOINT=s3-eu-west-1.amazonaws.com", "AWS_S3_REGION=eu-west-1", "ETCD_BACKUP_PREFIX=etcd-backup/"}},
		{"quoted machines, leader first", map[string]string{"ETCD_MACHINES": `"http://10.0.0.1:2379", "http://10.0.0.2:2379"`, "ETCD_LEADER": "http://10.0.0.2:2379"},
			[]string{"ETCD_ENDPOINTS=http://10.0.0.2:2379,http://10.0.0.1:2379"}},
		{"plain machines", map[string]string{"ETCD_MACHINES": "http://a:2379,http://b:2379"},
			[]string{"ETCD_ENDPOINTS=http://a:2379,http://b:2379"}},
		{"new-style endpoint host", map[string]string{"AWS_S3_ENDPOINT": "s3.us-west-2.amazonaws.com"},
			[]string{"AWS_S3_ENDPOINT=s3.us-west-2.amazonaws.com", "AWS_S3_REGION=us-west-2"}},
		{"local store URL", map[string]string{"AWS_S3_ENDPOINT": "http://127.0.0.1:7070"},
			[]string{"AWS_S3_ENDPOINT=http://127.0.0.1:7070", "AWS_S3_REGION=us-east-1"}},
		{"explicit region wins", map[string]string{"AWS_S3_ENDPOINT": "minio.example:9000", "AWS_S3_REGION": "eu-central-1"},
			[]string{"AWS_S3_REGION=eu-central-1"}},
		{"dump asked for by its key", map[string]string{"ETCD_KEY": "/registry/"},
			[]string{"ETCD_DUMP_FILENAME=dump.json", "ETCD_KEY=/registry/"}},
		{"original es job", map[string]string{"CRONJOB_COMMAND": "sh /jobs/elasticsearchbackupjob.sh"},
			[]string{"job elasticsearchbackupjob.sh (es-backup)", "ES_HOST_URL=http://localhost:9200", "ES_REPOSITORY=default_repo"}},
		{"a command", map[string]string{"JOB": "echo hi | tr a-z A-Z"},
			[]string{"(command)", "-- /bin/sh -c echo hi | tr a-z A-Z"}},
		{"once, no schedule", map[string]string{"GOCRON_SCHEDULE": ""}, []string{"schedule once: go-cron --once --"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := []string{"PATH=/usr/bin:/bin", "CRONBOX_JOBS_DIR=../scripts"}
			merged := map[string]string{}
			for k, v := range base {
				merged[k] = v
			}
			for k, v := range c.env {
				merged[k] = v
			}
			for k, v := range merged {
				env = append(env, k+"="+v)
			}
			sort.Strings(env)
			args := []string{"sh", "../scripts/entrypoint", "--check"}
			if c.name == "once, no schedule" {
				args = append(args, "--once")
			}
			cmd := exec.Command(busybox, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("entrypoint --check: %v\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
