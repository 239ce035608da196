package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkRun runs `etcd-backup check` with exactly env.
func checkRun(t *testing.T, env map[string]string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), []string{"check"}, Env{
		Getenv: func(k string) string { return env[k] },
		Stdout: &out, Stderr: &errb,
		Now: func() time.Time { return time.Date(2026, 11, 27, 3, 4, 5, 0, time.UTC) },
	})
	return code, out.String(), errb.String()
}

// jobEnv is what the entrypoint exports for the etcd job, all good.
func jobEnv(more ...string) map[string]string {
	env := map[string]string{
		"AWS_S3_BUCKET": "backups", "AWS_ACCESS_KEY_ID": "access", "AWS_SECRET_ACCESS_KEY": "secret-value",
		"ETCD_ENDPOINTS": "http://127.0.0.1:2379", "ETCD_BACKUP_PREFIX": "etcd-backup/", "ETCD_KEEP_LAST": "30", "ETCD_MIN_KEEP": "1",
	}
	for i := 0; i+1 < len(more); i += 2 {
		if more[i+1] == "<unset>" {
			delete(env, more[i])
		} else {
			env[more[i]] = more[i+1]
		}
	}
	return env
}

// check resolves the S3 region in the Go code, one place (issue 13.2): a
// user's AWS_REGION is kept, AWS endpoints in every form give their region.
// The entrypoint used to export a guessed AWS_S3_REGION over AWS_REGION
// (us-east-1 for the first, second and third rows) and refused dualstack.
func TestCheckResolvesTheRegionInGo(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"AWS_REGION", "eu-central-1", "AWS_S3_ENDPOINT", "http://127.0.0.1:7070"}, "on http://127.0.0.1:7070 (region eu-central-1)"},
		{[]string{"AWS_S3_ENDPOINT", "s3.cn-north-1.amazonaws.com.cn"}, "on https://s3.cn-north-1.amazonaws.com.cn (region cn-north-1)"},
		{[]string{"AWS_S3_ENDPOINT", "s3.eu-west-1.amazonaws.com:443"}, "on https://s3.eu-west-1.amazonaws.com:443 (region eu-west-1)"},
		{[]string{"AWS_S3_ENDPOINT", "s3.dualstack.eu-west-1.amazonaws.com"}, "on https://s3.dualstack.eu-west-1.amazonaws.com (region eu-west-1)"},
		{[]string{"AWS_S3_ENDPOINT", "s3-eu-west-1.amazonaws.com"}, "on https://s3-eu-west-1.amazonaws.com (region eu-west-1)"},
		{[]string{"AWS_REGION", "us-west-2"}, "on https://s3.us-west-2.amazonaws.com (region us-west-2)"},
		{[]string{"AWS_S3_ENDPOINT", "minio.example:9000", "AWS_S3_REGION", "eu-central-1", "AWS_REGION", "us-west-2"}, "on https://minio.example:9000 (region eu-central-1)"},
		{[]string{"AWS_S3_ENDPOINT", "http://127.0.0.1:7070"}, "on http://127.0.0.1:7070 (region us-east-1)"},
		{[]string{"ETCD_ENDPOINTS", "http://root:secret-value@10.0.0.1:2379"}, "save: etcd http://root:xxxxx@10.0.0.1:2379 ->"},
	} {
		code, out, errOut := checkRun(t, jobEnv(c.env...))
		if code != 0 || !strings.Contains(out, c.want) || strings.Contains(out, "secret-value") {
			t.Errorf("%v: exit %d, %s%s; want %q", c.env, code, out, errOut, c.want)
		}
	}
}

// What check prints: every step of the job with what it would use.
func TestCheckPrintsThePlan(t *testing.T) {
	code, out, errOut := checkRun(t, jobEnv(
		"ETCD_ENDPOINTS", "<unset>", "ETCD_MACHINES", `"http://10.0.0.1:2379", "http://10.0.0.2:2379"`, "ETCD_LEADER", "http://10.0.0.2:2379",
		"AWS_S3_ENDPOINT", "http://127.0.0.1:7070", "ETCD_DUMP_FILENAME", "dump.json", "ETCD_KEY", "/registry/"))
	want := `etcd-backup check: save: etcd http://10.0.0.2:2379,http://10.0.0.1:2379,http://10.0.0.2:2379 -> s3://backups/etcd-backup/20261127T030405.000Z.db on http://127.0.0.1:7070 (region us-east-1), not compressed, not encrypted
etcd-backup check: verify: s3://backups/etcd-backup/20261127T030405.000Z.db (recorded SHA-256, snapshot trailer, status)
etcd-backup check: prune: s3://backups/etcd-backup/: keep last 30, never fewer than 1 verified
etcd-backup check: dump: keys under /registry/ -> s3://backups/dump.json
`
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("exit %d\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
}

// How the job stores its backups, in the plan: compressed, encrypted,
// locked, the retention tiers.
func TestCheckPrintsHowItStores(t *testing.T) {
	code, out, errOut := checkRun(t, jobEnv("ETCD_BACKUP_COMPRESS", "zstd", "ETCD_BACKUP_ENCRYPT_TO", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
		"AWS_S3_OBJECT_LOCK_MODE", "COMPLIANCE", "AWS_S3_OBJECT_LOCK_RETAIN", "30d", "ETCD_BACKUP_KEEP_DAILY", "7", "ETCD_BACKUP_KEEP_MONTHLY", "-1"))
	for _, want := range []string{".db.zst.age", "compressed (zstd), encrypted (age: X25519)", "object lock COMPLIANCE for 720h0m0s", "keep last 30, daily 7, monthly all"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, %s%s; want %q", code, out, errOut, want)
		}
	}
}

// A bad variable: exit 2, one line naming it, through the command's own
// checks (ETCD_BACKUP_RATE_LIMIT and ETCD_BACKUP_WRITE_OUT are save's and
// verify's variables that check has no code of its own for).
func TestCheckRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"AWS_S3_BUCKET", "<unset>"}, "AWS_S3_BUCKET is not set"},
		{[]string{"AWS_S3_BUCKET", "Bad_Bucket"}, "AWS_S3_BUCKET=Bad_Bucket: want a bucket name"},
		{[]string{"AWS_S3_BUCKET", "ab"}, "AWS_S3_BUCKET=ab"},
		{[]string{"AWS_S3_ENDPOINT", "ftp://s3.example.com"}, `AWS_S3_ENDPOINT: endpoint "ftp://s3.example.com": scheme must be http or https`},
		{[]string{"AWS_S3_ENDPOINT", "s3 example com"}, `AWS_S3_ENDPOINT: endpoint "s3 example com"`},
		{[]string{"AWS_S3_REGION", "EU West"}, `AWS_S3_REGION="EU West": not a region name`},
		{[]string{"AWS_REGION", "eu west"}, `AWS_REGION="eu west"`},
		{[]string{"AWS_ACCESS_KEY_ID", "<unset>", "AWS_SECRET_ACCESS_KEY", "<unset>"}, "AWS_ACCESS_KEY_ID is not set"},
		{[]string{"AWS_SECRET_ACCESS_KEY", "<unset>"}, "AWS_SECRET_ACCESS_KEY: not set"},
		{[]string{"AWS_SECRET_ACCESS_KEY", "<unset>", "AWS_SECRET_ACCESS_KEY_FILE", filepath.Join(dir, "nope")}, "AWS_SECRET_ACCESS_KEY_FILE: open " + filepath.Join(dir, "nope")},
		{[]string{"AWS_SECRET_ACCESS_KEY", "<unset>", "AWS_SECRET_ACCESS_KEY_FILE", empty}, "AWS_SECRET_ACCESS_KEY_FILE: " + empty + " is empty"},
		{[]string{"AWS_SECRET_ACCESS_KEY_FILE", empty}, "AWS_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY_FILE: give one of them"},
		{[]string{"ETCD_ENDPOINTS", "ftp://x:2379"}, `ETCD_ENDPOINTS "ftp://x:2379"`},
		{[]string{"ETCD_ENDPOINTS", "<unset>", "ETCD_MACHINES", `"10.0.0.1:2379"`}, "ETCD_MACHINES: 10.0.0.1:2379: want http://host:port"},
		{[]string{"ETCD_LEADER", "etcd1:2379"}, "ETCD_LEADER: etcd1:2379: want http://host:port"},
		{[]string{"ETCD_KEEP_LAST", "-3"}, `prune: ETCD_KEEP_LAST="-3": want a count (to keep every backup, do not prune)`},
		{[]string{"ETCD_KEEP_LAST", "ten"}, `prune: ETCD_KEEP_LAST="ten": want a whole number`},
		{[]string{"ETCD_BACKUP_KEEP_DAILY", "-5"}, `prune: ETCD_BACKUP_KEEP_DAILY="-5": want a count`},
		{[]string{"ETCD_BACKUP_KEEP_WEEKLY", "some"}, `prune: ETCD_BACKUP_KEEP_WEEKLY="some"`},
		{[]string{"ETCD_BACKUP_PREFIX", "a//b/"}, `save: ETCD_BACKUP_PREFIX: "a//b/": empty, . or .. folder`},
		{[]string{"ETCD_BACKUP_COMPRESS", "lz4"}, `save: ETCD_BACKUP_COMPRESS: "lz4": unknown compression`},
		{[]string{"ETCD_BACKUP_COMPRESS", "gzip", "ETCD_BACKUP_COMPRESS_LEVEL", "12"}, "save: ETCD_BACKUP_COMPRESS_LEVEL: level 12: gzip takes 1 to 9"},
		{[]string{"ETCD_BACKUP_ENCRYPT_TO", "age1bad"}, `save: ETCD_BACKUP_ENCRYPT_TO: recipient "age1bad"`},
		{[]string{"ETCD_BACKUP_RECIPIENTS_FILE", filepath.Join(dir, "nope")}, "save: ETCD_BACKUP_RECIPIENTS_FILE " + filepath.Join(dir, "nope")},
		{[]string{"ETCD_BACKUP_PASSPHRASE_FILE", filepath.Join(dir, "nope")}, "save: ETCD_BACKUP_PASSPHRASE_FILE: stat " + filepath.Join(dir, "nope")},
		{[]string{"ETCD_BACKUP_PASSPHRASE_FILE", empty}, "save: ETCD_BACKUP_PASSPHRASE_FILE " + empty + ": the file is empty"},
		{[]string{"ETCD_BACKUP_IDENTITY_FILE", filepath.Join(dir, "nope")}, "verify: ETCD_BACKUP_IDENTITY_FILE " + filepath.Join(dir, "nope")},
		{[]string{"ETCD_BACKUP_IDENTITY", "AGE-SECRET-KEY-1SECRETVALUE"}, "verify: ETCD_BACKUP_IDENTITY: not an age identity file"},
		{[]string{"AWS_S3_OBJECT_LOCK_MODE", "forever"}, `save: AWS_S3_OBJECT_LOCK_MODE "forever": want GOVERNANCE or COMPLIANCE`},
		{[]string{"AWS_S3_OBJECT_LOCK_MODE", "COMPLIANCE"}, "save: AWS_S3_OBJECT_LOCK_MODE COMPLIANCE needs --object-lock-retain (AWS_S3_OBJECT_LOCK_RETAIN)"},
		{[]string{"AWS_S3_OBJECT_LOCK_RETAIN", "30d"}, "save: AWS_S3_OBJECT_LOCK_RETAIN is set without --object-lock-mode (AWS_S3_OBJECT_LOCK_MODE)"},
		{[]string{"AWS_S3_OBJECT_LOCK_MODE", "GOVERNANCE", "AWS_S3_OBJECT_LOCK_RETAIN", "-1d"}, `save: AWS_S3_OBJECT_LOCK_RETAIN "-1d"`},
		{[]string{"AWS_S3_SSE", "rot13"}, `save: AWS_S3_SSE "rot13"`},
		{[]string{"ETCD_MIN_KEEP", "0"}, "--min-keep (ETCD_MIN_KEEP) 0: must be at least 1"},
		{[]string{"ETCDCTL_PASSWORD_FILE", filepath.Join(dir, "nope")}, "ETCDCTL_PASSWORD_FILE: open"},
		{[]string{"ETCDCTL_DIAL_TIMEOUT", "soon"}, "ETCDCTL_DIAL_TIMEOUT"},
		{[]string{"ETCD_BACKUP_RATE_LIMIT", "fast"}, "save: ETCD_BACKUP_RATE_LIMIT"},
		{[]string{"ETCD_BACKUP_WRITE_OUT", "xml"}, `verify: ETCD_BACKUP_WRITE_OUT="xml": simple or json`},
		{[]string{"ETCD_DUMP_FILENAME", "dump.json", "ETCD_ENDPOINTS", "http://a:2379", "ETCDCTL_COMMAND_TIMEOUT", "-1s"}, "ETCDCTL_COMMAND_TIMEOUT"},
	} {
		code, out, errOut := checkRun(t, jobEnv(c.env...))
		lines := strings.Count(strings.TrimSpace(errOut), "\n") + 1
		if code != 2 || lines != 1 || !strings.HasPrefix(errOut, "etcd-backup check: ") || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", c.env, code, out, errOut, c.want)
		}
		if strings.Contains(errOut, "secret-value") {
			t.Errorf("%v: the secret is in the message: %s", c.env, errOut)
		}
	}
}

// check contacts nothing: etcd and S3 both point at a listener that is
// never served, and no connection is waiting in its queue afterwards (the
// kernel completes a connect without Accept, so a check that dialled would
// have left one there).
func TestCheckContactsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	url := "http://" + ln.Addr().String()
	code, out, errOut := checkRun(t, jobEnv("ETCD_ENDPOINTS", url, "AWS_S3_ENDPOINT", url, "ETCD_DUMP_FILENAME", "dump.json"))
	if code != 0 || !strings.Contains(out, "dump: ") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("check connected to the etcd or S3 endpoint")
	}
}
