package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/es-snapshot/snapshot"
)

// check is set in Env while `es-snapshot check` runs the job's commands:
// each reads its flags and variables and checks them with its own code, and
// where it would first contact the server (conn.client) it calls
// check.stop instead, which notes the server and returns errChecked. So
// every flag and variable a command reads is checked by check too, the day
// it is added, with the command's own message.
type check struct {
	fs   *flagSet // the running command's flags (newFlagSet sets it)
	host string   // the server the command would have contacted
}

// errChecked ends a command in check mode where its work would begin.
var errChecked = errors.New("checked")

func (c *check) stop(cl *esclient.Client) error {
	c.host = cl.Host()
	return errChecked
}

const checkUsage = `usage: es-snapshot check

Reads the configuration of the image's es-backup job (scripts/es-backup: repo
ensure, create, and prune when ES_KEEP_LAST, a tier or ES_MAX_AGE is set) from the
environment exactly as those commands read it, checks it with their code,
prints what each would do, and contacts nothing. Exit status 0, or 2 with one
line naming the variable that is wrong. The image's entrypoint calls it.
`

func cmdCheck(ctx context.Context, args []string, env Env) error {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
			fmt.Fprint(env.Stdout, checkUsage)
			return errHelp
		}
		return usagef("check takes no arguments: it reads the environment, as the job does")
	}
	c := &check{}
	env.check = c
	var plan []string
	steps := []struct {
		name string
		run  func(context.Context, []string, Env) error
		args []string
	}{
		{"repo ensure", cmdRepoEnsure, nil},
		{"create", cmdCreate, nil},
		{"prune", cmdPrune, nil},
	}
	// es-backup prunes only when a policy is set; without one, prune's other
	// settings (ES_MIN_KEEP, the name pattern) are still checked, against a
	// stand-in policy, so that they are right the day one is set.
	pruning := env.Getenv("ES_KEEP_LAST")+env.Getenv("ES_MAX_AGE")+env.Getenv("ES_KEEP_HOURLY")+env.Getenv("ES_KEEP_DAILY")+
		env.Getenv("ES_KEEP_WEEKLY")+env.Getenv("ES_KEEP_MONTHLY")+env.Getenv("ES_KEEP_YEARLY") != ""
	if !pruning {
		steps[2].args = []string{"--keep-last", "1"}
	}
	for _, st := range steps {
		c.fs, c.host = nil, ""
		err := st.run(ctx, st.args, env)
		switch {
		case errors.Is(err, errChecked):
		case err == nil:
			return fmt.Errorf("check: %s: ran to its end instead of stopping before its work (a check hook is missing)", st.name)
		default:
			var ue usageError
			if errors.As(err, &ue) {
				msg := strings.TrimPrefix(err.Error(), st.name+": ")
				return usagef("check: %s: %s", st.name, c.explain(msg))
			}
			return fmt.Errorf("check: %s: %w", st.name, err)
		}
		plan = append(plan, c.describe(st.name, pruning))
	}
	for _, line := range plan {
		fmt.Fprintf(env.Stdout, "es-snapshot check: %s\n", line)
	}
	return nil
}

// value is a flag's value as the command read it ("" if it has none).
func (c *check) value(name string) string {
	if f := c.fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// describe says what a command that stopped at its hook would have done.
// Secrets (user, password, API key) are not shown.
func (c *check) describe(step string, pruning bool) string {
	repo := c.value("repository")
	switch step {
	case "repo ensure":
		typ := c.value("type")
		names := map[string][]string{"s3": {"bucket", "base-path", "client"}, "fs": {"location"}}[typ]
		var settings []string
		for _, name := range names {
			if v := c.value(name); v != "" {
				settings = append(settings, name+" "+v)
			}
		}
		// ES_REPOSITORY_SETTINGS by key only: its values may be credentials.
		var extra map[string]any
		if json.Unmarshal([]byte(c.value("settings")), &extra) == nil && len(extra) > 0 {
			keys := make([]string, 0, len(extra))
			for k := range extra {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			settings = append(settings, "settings "+strings.Join(keys, " "))
		}
		return fmt.Sprintf("repo ensure: repository %s, type %s (%s), on %s", repo, typ, strings.Join(settings, ", "), c.host)
	case "create":
		name := c.value("name")
		if nm, err := snapshot.NewNamer(c.value("pattern"), name); err == nil {
			name = nm.Name(time.Now())
		}
		indices := c.value("indices")
		if indices == "" {
			indices = "all indices"
		}
		return fmt.Sprintf("create: snapshot %s of %s in %s, wait for SUCCESS (timeout %s)", name, indices, repo, c.value("timeout"))
	}
	if !pruning {
		return "prune: off (set ES_KEEP_LAST, ES_KEEP_DAILY (or another tier) and/or ES_MAX_AGE to prune)"
	}
	tiers := ""
	for _, t := range []string{"hourly", "daily", "weekly", "monthly", "yearly"} {
		if v := c.value("keep-" + t); v != "" && v != "0" {
			tiers += fmt.Sprintf(", %s %s", t, v)
		}
	}
	return fmt.Sprintf("prune: %s in %s: keep the last %s (0: no limit)%s, max age %s (0: none), never fewer than %s good",
		c.value("pattern"), repo, c.value("keep-last"), tiers, c.value("max-age"), c.value("min-keep"))
}

// explain names the variable behind each flag a message mentions, when the
// value came from one: "--url" anywhere, and a hyphenated name such as
// "min-keep" also as a word ("min-keep is 0" becomes "min-keep
// (ES_MIN_KEEP) is 0"). Values are not repeated (they may be secrets).
func (c *check) explain(msg string) string {
	if c.fs == nil {
		return msg
	}
	for name := range c.fs.from {
		from := c.fs.origin(name)
		if strings.HasPrefix(from, "--") || strings.Contains(msg, from) {
			continue // given as a flag, or named already
		}
		if !strings.Contains(name, "-") {
			msg = strings.ReplaceAll(msg, "--"+name+" ", "--"+name+" ("+from+") ")
			continue
		}
		re := regexp.MustCompile(`(^|[^a-z-])(-{0,2}` + regexp.QuoteMeta(name) + `)([^a-z-]|$)`)
		msg = re.ReplaceAllString(msg, "$1$2 ("+from+")$3")
	}
	return msg
}
