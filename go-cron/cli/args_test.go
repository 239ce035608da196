package cli

import (
	"slices"
	"strings"
	"testing"
)

func TestScheduleAndCommandForms(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     []string
		sched   string
		from    string
		command []string
		addr    string
	}{
		{"new form", []string{"0/10 * * * * *", "--", "sh", "/jobs/x.sh"}, nil, "0/10 * * * * *", "argument", []string{"sh", "/jobs/x.sh"}, ":18080"},
		{"original positional form", []string{"0/10 * * * * *", "sh", "/jobs/x.sh"}, nil, "0/10 * * * * *", "argument", []string{"sh", "/jobs/x.sh"}, ":18080"},
		{"original flags", []string{"-s", "@hourly", "-p", "8080", "--", "sh", "-c", "echo 1"}, nil, "@hourly", "-s", []string{"sh", "-c", "echo 1"}, ":8080"},
		{"GOCRON_SCHEDULE", []string{"sh", "/jobs/x.sh"}, []string{"GOCRON_SCHEDULE=@daily"}, "@daily", "GOCRON_SCHEDULE", []string{"sh", "/jobs/x.sh"}, ":18080"},
		{"CRON_SCHEDULE", []string{"--", "sh"}, []string{"CRON_SCHEDULE=@daily"}, "@daily", "CRON_SCHEDULE", []string{"sh"}, ":18080"},
		{"argument beats the variable", []string{"@weekly", "sh"}, []string{"GOCRON_SCHEDULE=@daily"}, "@weekly", "argument", []string{"sh"}, ":18080"},
		{"address from the environment", []string{"@weekly", "sh"}, []string{"GOCRON_STATUS_ADDR=127.0.0.1:9"}, "@weekly", "argument", []string{"sh"}, "127.0.0.1:9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, args, err := parseFlags(tc.args, tc.env, nil)
			if err != nil {
				t.Fatal(err)
			}
			sched, from, command, err := splitArgs(o, args)
			if err != nil {
				t.Fatal(err)
			}
			if sched != tc.sched || from != tc.from || !slices.Equal(command, tc.command) || o.addr != tc.addr {
				t.Errorf("got %q from %s, %q, %s", sched, from, command, o.addr)
			}
		})
	}
}

// A negative duration names where it came from: the flag or the variable.
func TestNegativeDurationNamesItsSource(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"@hourly", "--", "true"}, []string{"GOCRON_TIMEOUT=-1s"}, "GOCRON_TIMEOUT=-1s"},
		{[]string{"--grace", "-2s", "@hourly", "--", "true"}, nil, "--grace -2s"},
		{[]string{"--jitter=-1m", "@hourly", "--", "true"}, []string{"GOCRON_JITTER=5s"}, "--jitter -1m"},
		{[]string{"@hourly", "--", "true"}, []string{"HEALTH_MAX_AGE=-1h"}, "HEALTH_MAX_AGE=-1h"},
	} {
		_, _, err := parseFlags(tc.args, tc.env, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "negative") {
			t.Errorf("%q %q: err %v, want one naming %q", tc.args, tc.env, err, tc.want)
		}
	}
}
