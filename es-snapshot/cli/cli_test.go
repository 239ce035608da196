package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cronbox/es-snapshot/cli"
)

// runInProcess runs cli.Run with exactly env as the environment.
func runInProcess(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{
		Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func writeSecret(t *testing.T, value string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The test nodes run without the security plugin, so a wrong password is
// tested against the 401 answers the two families document: Elasticsearch
// security's JSON security_exception and the OpenSearch security plugin's
// plain "Unauthorized".
func TestWrongPasswordIsAClear401(t *testing.T) {
	const user, good = "elastic", "right-password"
	cases := map[string]func(w http.ResponseWriter){
		"elasticsearch": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate user [elastic] for REST request [/]"}],"type":"security_exception","reason":"unable to authenticate user [elastic] for REST request [/]"},"status":401}`))
		},
		"opensearch": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte("Unauthorized"))
		},
	}
	for name, refuse := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if u, p, ok := r.BasicAuth(); !ok || u != user || p != good {
					refuse(w)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.Path {
				case "/":
					w.Write([]byte(`{"version":{"distribution":"opensearch","number":"2.19.6"}}`))
				default:
					w.Write([]byte(`{"snapshots":[]}`))
				}
			}))
			defer srv.Close()
			env := map[string]string{"ES_HOST_URL": srv.URL, "ES_REPOSITORY": "r", "ES_USERNAME": user,
				"ES_PASSWORD_FILE": writeSecret(t, "wrong-password")}
			r := runInProcess(t, env, "list")
			if r.code != 1 {
				t.Fatalf("wrong password: %s", r)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 {
				t.Errorf("want one stderr line, got %d:\n%s", len(lines), r.stderr)
			}
			for _, want := range []string{"GET /", "HTTP 401", "refused the credentials", srv.URL} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q: %s", want, r.stderr)
				}
			}
			if name == "elasticsearch" && !strings.Contains(r.stderr, "security_exception: unable to authenticate user [elastic]") {
				t.Errorf("the server's type and reason are missing: %s", r.stderr)
			}
			if strings.Contains(r.stderr, "wrong-password") {
				t.Errorf("the password leaked into stderr: %s", r.stderr)
			}

			env["ES_PASSWORD_FILE"] = writeSecret(t, good)
			if r := runInProcess(t, env, "list"); r.code != 0 || !strings.Contains(r.stdout, "NAME") {
				t.Fatalf("right password: %s", r)
			}
		})
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	base := map[string]string{"ES_HOST_URL": "http://127.0.0.1:1", "ES_REPOSITORY": "r"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no command", base, nil, "no command"},
		{"unknown command", base, []string{"backup"}, "unknown command"},
		{"no repository", with("ES_REPOSITORY", ""), []string{"create"}, "ES_REPOSITORY"},
		{"repository with a slash", with("ES_REPOSITORY", "a/b"), []string{"list"}, "must not"},
		{"repository _all", with("ES_REPOSITORY", "_all"), []string{"prune", "--keep-last", "1"}, "must not start with _"},
		{"min-keep 0", base, []string{"prune", "--keep-last", "3", "--min-keep", "0"}, "min-keep"},
		{"prune without a rule", base, []string{"prune"}, "neither keep-last nor max-age"},
		{"bad max age", with("ES_MAX_AGE", "a week"), []string{"prune"}, "ES_MAX_AGE"},
		{"bad boolean", with("ES_INSECURE_SKIP_VERIFY", "maybe"), []string{"list"}, "ES_INSECURE_SKIP_VERIFY"},
		{"uppercase name", with("ES_SNAPSHOTNAME", "Nightly"), []string{"create"}, "lowercase"},
		{"s3 without bucket", base, []string{"repo", "ensure"}, "AWS_S3_BUCKET"},
		{"fs without location", base, []string{"repo", "ensure", "--type", "fs"}, "ES_FS_LOCATION"},
		{"raw settings not JSON", base, []string{"repo", "ensure", "--type", "url", "--settings", "{"}, "JSON"},
		{"bad URL", with("ES_HOST_URL", "localhost:9200"), []string{"list"}, "scheme"},
		{"missing password file", with("ES_PASSWORD_FILE", "/nonexistent/pw"), []string{"list"}, "ES_PASSWORD_FILE"},
		{"password and its file", with("ES_PASSWORD", "a", "ES_PASSWORD_FILE", "/etc/hostname"), []string{"list"}, "ES_PASSWORD and ES_PASSWORD_FILE"},
		{"api key and user", with("ES_API_KEY", "k", "ES_USERNAME", "u"), []string{"list"}, "API key"},
		{"rename half given", base, []string{"restore", "--rename-pattern", "(.+)"}, "go together"},
		{"unknown flag", base, []string{"create", "--bogus"}, "bogus"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runInProcess(t, c.env, c.args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("want exit 2 mentioning %q, got %s", c.want, r)
			}
		})
	}
}

func TestUnreachableServerExits1(t *testing.T) {
	r := runInProcess(t, map[string]string{"ES_HOST_URL": "http://127.0.0.1:1", "ES_REPOSITORY": "r"}, "list")
	if r.code != 1 || !strings.Contains(r.stderr, "GET /") || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Fatalf("%s", r)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"--version"}, {"create", "--help"}} {
		if r := runInProcess(t, map[string]string{"ES_PASSWORD": "s3cr3t"}, args...); r.code != 0 || strings.Contains(r.stdout+r.stderr, "s3cr3t") {
			t.Errorf("%v: %s", args, r)
		}
	}
}

// The test nodes have no S3 plugin, so the s3 registration is checked by
// what reaches the server: bucket, base_path and client, and never the
// region setting the original job sent (refused since ES 6).
func TestS3RepositoryBodyHasNoRegion(t *testing.T) {
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/":
			w.Write([]byte(`{"version":{"number":"8.15.0"},"tagline":"You Know, for Search"}`))
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"type":"repository_missing_exception","reason":"[backups] missing"},"status":404}`))
		case r.Method == http.MethodPut:
			b := new(bytes.Buffer)
			b.ReadFrom(r.Body)
			body = b.String()
			if r.URL.Query().Get("verify") != "false" {
				t.Errorf("PUT without verify=false: %s", r.URL)
			}
			w.Write([]byte(`{"acknowledged":true}`))
		case strings.HasSuffix(r.URL.Path, "/_verify"):
			w.Write([]byte(`{"nodes":{"abc":{"name":"es-1"}}}`))
		}
	}))
	defer srv.Close()
	r := runInProcess(t, map[string]string{
		"ES_HOST_URL": srv.URL, "ES_REPOSITORY": "backups", "AWS_S3_BUCKET": "my-bucket",
		"AWS_S3_REGION": "eu-west-1", "ES_S3_BASE_PATH": "prod/es", "ES_S3_CLIENT": "backup",
	}, "repo", "ensure")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	want := `{"type":"s3","settings":{"base_path":"prod/es","bucket":"my-bucket","client":"backup"}}`
	if body != want {
		t.Fatalf("PUT body %s, want %s", body, want)
	}
	if !strings.Contains(r.stderr, "AWS_S3_REGION is not sent") || !strings.Contains(r.stderr, "verified by 1 node(s): es-1") {
		t.Fatalf("%s", r)
	}
}

// A flag or configuration mistake is one line naming the flag or variable,
// exit 2, never the whole usage.
func TestUsageErrorsAreOneLine(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"create", "--repository", "r", "--request-timeout", "abc"}, "request-timeout"},
		{nil, []string{"create", "--bogus"}, "bogus"},
		{nil, []string{"create", "--repository", "r", "--timeout", "-5m"}, "timeout"},
		{nil, []string{"prune", "--repository", "r", "--keep-last", "1", "--max-age", "-1d"}, "max-age"},
		{map[string]string{"ES_TIMEOUT": "-5m"}, []string{"create", "--repository", "r"}, "ES_TIMEOUT"},
		{map[string]string{"ES_TIMEOUT": "0"}, []string{"create", "--repository", "r"}, "ES_TIMEOUT"},
		{map[string]string{"ES_REQUEST_TIMEOUT": "0s"}, []string{"list", "--repository", "r"}, "ES_REQUEST_TIMEOUT"},
	} {
		r := runInProcess(t, tc.env, tc.args...)
		lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1
		if r.code != 2 || lines != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v %v: want exit 2 and one line naming %q: %s", tc.env, tc.args, tc.want, r)
		}
	}
	if r := runInProcess(t, nil, "create", "--bogus"); !strings.Contains(r.stderr, "see es-snapshot --help") {
		t.Errorf("no hint: %s", r)
	}
	if r := runInProcess(t, nil, "create", "--help"); r.code != 0 || !strings.Contains(r.stdout, "-request-timeout") {
		t.Errorf("create --help: %s", r)
	}
}
