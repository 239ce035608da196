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

func runCheck(t *testing.T, env map[string]string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"check"}, Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// esJob is what the entrypoint exports for the es-backup job, all good.
func esJob(more ...string) map[string]string {
	env := map[string]string{"ES_HOST_URL": "http://127.0.0.1:9200", "ES_REPOSITORY": "default_repo", "ES_SNAPSHOTNAME": "_", "AWS_S3_BUCKET": "backups", "ES_PASSWORD": "secret-value", "ES_USERNAME": "elastic"}
	for i := 0; i+1 < len(more); i += 2 {
		env[more[i]] = more[i+1]
	}
	return env
}

func TestCheckPrintsThePlan(t *testing.T) {
	code, out, errOut := runCheck(t, esJob("ES_S3_BASE_PATH", "prod"))
	for _, want := range []string{
		"es-snapshot check: repo ensure: repository default_repo, type s3 (bucket backups, base-path prod), on http://127.0.0.1:9200\n",
		"es-snapshot check: create: snapshot ", "__ of all indices in default_repo, wait for SUCCESS (timeout 1h0m0s)\n",
		"es-snapshot check: prune: off (set ES_KEEP_LAST, ES_KEEP_DAILY (or another tier) and/or ES_MAX_AGE to prune)\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s%s", code, want, out, errOut)
		}
	}
	code, out, _ = runCheck(t, esJob("ES_KEEP_LAST", "7", "ES_MAX_AGE", "30d", "ES_REPOSITORY_TYPE", "fs", "ES_FS_LOCATION", "/snap", "ES_INDICES", "logs-*",
		"ES_REPOSITORY_SETTINGS", `{"compress":true,"chunk_size":"secret-value"}`))
	for _, want := range []string{"type fs (location /snap, settings chunk_size compress)", "of logs-* in", "keep the last 7 (0: no limit), max age 720h0m0s (0: none), never fewer than 1 good"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "secret-value") || strings.Contains(out, "elastic") {
		t.Errorf("check shows the credentials:\n%s", out)
	}
	// A tier alone turns pruning on.
	code, out, _ = runCheck(t, esJob("ES_KEEP_DAILY", "7", "ES_KEEP_MONTHLY", "-1"))
	if want := "keep the last 0 (0: no limit), daily 7, monthly -1, max age 0 (0: none)"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
	}
}

// A bad variable: exit 2, one line naming it, through the commands' own
// checks (ES_PARTIAL and ES_REPOSITORY_SETTINGS have no code in check).
func TestCheckRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"ES_HOST_URL", "localhost:9200"}, `ES_HOST_URL: server URL "localhost:9200": scheme must be http or https`},
		{[]string{"ES_REPOSITORY", "bad/repo"}, `ES_REPOSITORY: repository "bad/repo"`},
		{[]string{"ES_REPOSITORY", ""}, "no repository: set --repository or ES_REPOSITORY"},
		{[]string{"ES_PASSWORD", "", "ES_PASSWORD_FILE", filepath.Join(dir, "nope")}, "ES_PASSWORD_FILE: open"},
		{[]string{"ES_API_KEY_FILE", dir}, "ES_API_KEY_FILE: read " + dir},
		{[]string{"ES_KEEP_LAST", "-3"}, "check: prune: keep-last (ES_KEEP_LAST) is -3"},
		{[]string{"ES_KEEP_LAST", "0"}, "neither keep-last (ES_KEEP_LAST) nor max-age is set"},
		{[]string{"ES_KEEP_DAILY", "-2"}, "keep-daily (ES_KEEP_DAILY) -2: want a count, or -1 for no limit"},
		{[]string{"ES_KEEP_WEEKLY", "many"}, "ES_KEEP_WEEKLY"},
		{[]string{"ES_MIN_KEEP", "0"}, "min-keep (ES_MIN_KEEP) is 0"},
		{[]string{"ES_MAX_AGE", "-1d"}, "ES_MAX_AGE"},
		{[]string{"ES_REQUEST_TIMEOUT", "abc"}, "ES_REQUEST_TIMEOUT"},
		{[]string{"AWS_S3_BUCKET", ""}, "an s3 repository needs a bucket: set --bucket or AWS_S3_BUCKET"},
		{[]string{"ES_PARTIAL", "maybe"}, `check: create: ES_PARTIAL="maybe"`},
		{[]string{"ES_REPOSITORY_SETTINGS", "{x"}, "ES_REPOSITORY_SETTINGS: not a JSON object"},
		{[]string{"ES_CA_FILE", filepath.Join(dir, "nope")}, filepath.Join(dir, "nope")},
		{[]string{"ES_SNAPSHOT_PATTERN", "%Y-%Q"}, "%Q"},
	} {
		code, out, errOut := runCheck(t, esJob(c.env...))
		lines := strings.Count(strings.TrimSpace(errOut), "\n") + 1
		if code != 2 || lines != 1 || !strings.HasPrefix(errOut, "es-snapshot: check: ") || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and one line with %q", c.env, code, out, errOut, c.want)
		}
		if strings.Contains(errOut, "secret-value") {
			t.Errorf("%v: the password is in the message: %s", c.env, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
		t.Fatal("check wrote a file")
	}
}

// check contacts nothing: the server URL points at a listener that is never
// served, and no connection waits in its queue afterwards.
func TestCheckContactsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if code, out, errOut := runCheck(t, esJob("ES_HOST_URL", "http://"+ln.Addr().String(), "ES_KEEP_LAST", "3")); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("check connected to the server")
	}
}
