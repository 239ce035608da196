package cli

import (
	"slices"
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
			sched, from, command, err := splitArgs(o, args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if sched != tc.sched || from != tc.from || !slices.Equal(command, tc.command) || o.addr != tc.addr {
				t.Errorf("got %q from %s, %q, %s", sched, from, command, o.addr)
			}
		})
	}
}
