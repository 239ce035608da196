package dispatch

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var got []string
	fake := func(name string, status int) Main {
		return func(args []string) int {
			got = append([]string{name}, args...)
			return status
		}
	}
	table := Table{"go-cron": fake("go-cron", 0), "ep": fake("ep", 3)}
	cases := []struct {
		name   string
		argv   []string
		status int
		ran    []string // the tool and its args, nil when no tool ran
		stdout string   // a substring
		stderr string   // a substring
	}{
		{"symlink name", []string{"/usr/local/bin/go-cron", "-s", "@hourly"}, 0, []string{"go-cron", "-s", "@hourly"}, "", ""},
		{"bare symlink name", []string{"ep", "a", "--", "b"}, 3, []string{"ep", "a", "--", "b"}, "", ""},
		{"own name then tool", []string{"/usr/local/bin/cronbox", "ep", "-v"}, 3, []string{"ep", "-v"}, "", ""},
		{"own name alone", []string{"cronbox"}, 2, nil, "", "usage: cronbox TOOL"},
		{"unknown tool", []string{"cronbox", "crond"}, 2, nil, "", `unknown tool "crond" (tools: ep, go-cron)`},
		{"help", []string{"cronbox", "--help"}, 0, nil, "tools: ep, go-cron", ""},
		{"list", []string{"cronbox", "--list"}, 0, nil, "ep\ngo-cron\n", ""},
		{"empty argv", nil, 2, nil, "", "no program name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got = nil
			var out, errb bytes.Buffer
			status := table.Run("cronbox", c.argv, &out, &errb)
			if status != c.status {
				t.Errorf("status %d, want %d (stderr %q)", status, c.status, errb.String())
			}
			if strings.Join(got, " ") != strings.Join(c.ran, " ") {
				t.Errorf("ran %q, want %q", got, c.ran)
			}
			if !strings.Contains(out.String(), c.stdout) {
				t.Errorf("stdout %q does not contain %q", out.String(), c.stdout)
			}
			if !strings.Contains(errb.String(), c.stderr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), c.stderr)
			}
		})
	}
}
