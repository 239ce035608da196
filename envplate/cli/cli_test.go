package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cronbox/clikit"
)

func TestParse(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	for _, c := range []struct {
		args []string
		env  map[string]string
		want func(*config) bool
		err  string
	}{
		{[]string{"-bdsv", "a", "b"}, nil, func(c *config) bool {
			return c.opt.Backup && c.opt.DryRun && c.opt.Strict && c.verbose && strings.Join(c.globs, ",") == "a,b"
		}, ""},
		{[]string{"-v", "/jobs/*", "-v", "/root/s.sh", "--", "/bin/sh", "-v", "--", "x"}, nil, func(c *config) bool {
			return strings.Join(c.globs, ",") == "/jobs/*,/root/s.sh" && strings.Join(c.command, " ") == "/bin/sh -v -- x"
		}, ""},
		{[]string{"--backup", "--dry-run", "--strict", "--verbose", "g"}, nil, func(c *config) bool {
			return c.opt.Backup && c.opt.DryRun && c.opt.Strict && c.verbose
		}, ""},
		{[]string{"--etcd", `"http://a:2379","http://b:2379"`, "--etcd-prefix=/p/", "--etcd-timeout", "2s", "--etcd-wins", "g"}, nil, func(c *config) bool {
			return strings.Join(c.etcd, " ") == "http://a:2379 http://b:2379" && c.etcdPrefix == "/p/" && c.etcdTimeout == 2*time.Second && c.etcdWins
		}, ""},
		{[]string{"g"}, map[string]string{"EP_ETCD_ENDPOINTS": "http://e:2379", "EP_ETCD_PREFIX": "/x/", "EP_ETCD_TIMEOUT": "1s", "EP_ETCD_WINS": "1"}, func(c *config) bool {
			return c.etcd[0] == "http://e:2379" && c.etcdPrefix == "/x/" && c.etcdTimeout == time.Second && c.etcdWins
		}, ""},
		{[]string{"g"}, nil, func(c *config) bool {
			return c.etcd == nil && c.etcdPrefix == "/cronbox/" && c.etcdTimeout == 5*time.Second
		}, ""},
		{[]string{"-"}, nil, func(c *config) bool { return c.globs[0] == "-" }, ""},
		{[]string{"--etcd-timeout", "soon", "g"}, nil, nil, `flag --etcd-timeout "soon"`},
		{[]string{"--etcd-timeout=-1s", "g"}, nil, nil, `flag --etcd-timeout "-1s"`},
		{[]string{"--etcd", "--", "x"}, nil, nil, "flag --etcd needs a value"},
		{[]string{"--etcd", " , ", "g"}, nil, nil, "flag --etcd: no endpoints given"},
		{[]string{"--strict=yes", "g"}, nil, nil, "flag --strict takes no value"},
		{[]string{"--frobnicate", "g"}, nil, nil, "unknown flag --frobnicate"},
		{[]string{"-vq", "g"}, nil, nil, `unknown flag -q in "-vq"`},
		{[]string{"--", "cmd"}, nil, nil, "no file globs given"},
		{[]string{"g"}, map[string]string{"EP_ETCD_TIMEOUT": "5"}, nil, `EP_ETCD_TIMEOUT="5"`},
		{[]string{"g"}, map[string]string{"EP_ETCD_WINS": "yes"}, nil, `EP_ETCD_WINS="yes"`},
	} {
		lookup := none
		if c.env != nil {
			lookup = func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
		}
		cfg, err := parse(c.args, lookup)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !clikit.IsUsage(err) {
				t.Errorf("parse %v: error %v, want a usage error containing %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || !c.want(cfg) {
			t.Errorf("parse %v: %+v, %v", c.args, cfg, err)
		}
	}
	for _, a := range []string{"-h", "--help", "-vh"} {
		if _, err := parse([]string{a}, none); !errors.Is(err, errHelp) {
			t.Errorf("parse %s: %v, want help", a, err)
		}
	}
}
