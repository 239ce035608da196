package source

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"cronbox/clikit"
	"cronbox/envplate/subst"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

func put(t *testing.T, endpoint string, kv map[string]string) {
	t.Helper()
	c := etcdtest.NewClient(t, endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for k, v := range kv {
		if _, err := c.Put(ctx, k, v); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
}

func TestLoadEtcd(t *testing.T) {
	endpoint := etcdtest.Embed(t, etcdtest.Options{}).Endpoint
	put(t, endpoint, map[string]string{
		"/cronbox/ES_HOST_URL":     "http://es.internal:9200",
		"/cronbox/AWS_S3_BUCKET":   "from-etcd",
		"/cronbox/deeper/KEY":      "skipped: not a name",
		"/cronbox/with-dash":       "skipped",
		"/cronboxES_HOST_URL":      "outside the prefix",
		"/other/ES_REPOSITORY":     "outside the prefix",
		"/cronbox/ES_SNAPSHOTNAME": "",
	})
	log := slog.New(slog.DiscardHandler)
	// Quoted, as the original image's ETCD_MACHINES was.
	m, err := LoadEtcd(context.Background(), log, clikit.ParseEndpoints(`"`+endpoint+`"`), "/cronbox/", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ES_HOST_URL": "http://es.internal:9200", "AWS_S3_BUCKET": "from-etcd", "ES_SNAPSHOTNAME": ""}
	if len(m.Vars) != len(want) {
		t.Fatalf("variables %v, want %v", m.Vars, want)
	}
	for k, v := range want {
		if got, ok := m.Vars[k]; !ok || got != v {
			t.Fatalf("%s = %q, want %q", k, got, v)
		}
	}

	// Precedence: the environment wins, unless etcd is put first.
	env := NewEnv([]string{"AWS_S3_BUCKET=from-env"})
	tpl, _ := subst.Parse("${ES_HOST_URL} ${AWS_S3_BUCKET} [${ES_SNAPSHOTNAME}]")
	for _, c := range []struct {
		chain First
		want  string
	}{
		{First{env, m}, "http://es.internal:9200 from-env []"},
		{First{m, env}, "http://es.internal:9200 from-etcd []"},
	} {
		out, uses, errs := tpl.Render(c.chain, subst.Options{})
		if len(errs) > 0 || out != c.want {
			t.Fatalf("render = %q, %v; want %q", out, errs, c.want)
		}
		if uses[0].From != "etcd" {
			t.Fatalf("ES_HOST_URL from %q, want etcd", uses[0].From)
		}
	}
}

// A cluster that does not answer fails within the timeout with an error
// that names the endpoint.
func TestLoadEtcdTimeout(t *testing.T) {
	dead := "http://127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	start := time.Now()
	_, err := LoadEtcd(context.Background(), slog.New(slog.DiscardHandler), []string{dead}, "/cronbox/", 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("error %v, want one naming %s", err, dead)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s with a 500ms timeout", d)
	}
}
