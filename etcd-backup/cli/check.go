package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/etcdconn"
	"cronbox/gof3r/s3"
)

// check is set in Env while `etcd-backup check` runs the job's commands:
// each command reads its flags and variables and checks them with its own
// code, then, where its work would begin (the first connection to etcd or
// S3), calls a method of check instead, which records what it would do and
// returns errChecked. So every flag and variable a command reads is
// checked by check too, the day it is added, with the command's own message.
type check struct {
	// flags is the running command's flag set (newFlags sets it), to name
	// the variable behind a flag in a message.
	flags *flags
	plan  []string
	saved string // where save would write, for verify
}

// errChecked ends a command in check mode where its work would begin.
var errChecked = errors.New("checked")

const checkUsage = `Usage: etcd-backup check

Reads the configuration of the image's etcd-backup job (scripts/etcd-backup:
save, verify, prune, and dump when ETCD_DUMP_FILENAME is set) from the
environment exactly as those commands read it, checks it with their code,
prints what each would do, and contacts nothing. Exit status 0, or 2 with one
line naming the variable that is wrong. The image's entrypoint calls it.
`

// runCheck is `etcd-backup check`.
func runCheck(args []string, env Env) error {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(env.Stdout, checkUsage)
			return flag.ErrHelp
		}
		return usagef("check takes no arguments: it reads the environment, as the job does")
	}
	c := &check{}
	env.check = c
	// What the job needs beyond each command's own rules: a bucket (the
	// commands also take a destination on the command line), credentials
	// (the S3 client also goes anonymous), and endpoints as URLs (etcdctl
	// also takes a bare host:port; the image's variables always were URLs).
	bucket := strings.TrimSpace(env.Getenv("AWS_S3_BUCKET"))
	if bucket == "" {
		return usagef("AWS_S3_BUCKET is not set: the bucket the backups go to")
	}
	if !bucketName.MatchString(bucket) || strings.Contains(bucket, "..") {
		return usagef("AWS_S3_BUCKET=%s: want a bucket name (3-63 of a-z 0-9 . -, a letter or digit at each end)", bucket)
	}
	// The commands as scripts/etcd-backup runs them; what it passes on the
	// command line, they read here from the same variables.
	if err := c.run("save", runSave, nil, env); err != nil {
		return err
	}
	if c.saved != "" { // save --incremental saved no one object to verify
		if err := c.run("verify", runVerify, []string{c.saved}, env); err != nil {
			return err
		}
	}
	if err := c.run("prune", runPrune, nil, env); err != nil {
		return err
	}
	if name := env.Getenv("ETCD_DUMP_FILENAME"); name != "" {
		if err := c.run("dump", runDump, []string{"s3://" + bucket + "/" + strings.TrimPrefix(name, "/")}, env); err != nil {
			return err
		}
	}
	cfg, err := s3.ConfigFromEnv(env.Getenv)
	if err == nil && cfg.AccessKey == "" {
		return usagef("AWS_ACCESS_KEY_ID is not set: the S3 access key (or AWS_ACCESS_KEY_ID_FILE, or a profile in AWS_SHARED_CREDENTIALS_FILE)")
	}
	for _, line := range c.plan {
		fmt.Fprintf(env.Stdout, "etcd-backup check: %s\n", line)
	}
	return nil
}

// run runs one command in check mode; it must stop at its hook.
func (c *check) run(name string, cmd func(context.Context, []string, Env) error, args []string, env Env) error {
	c.flags = nil
	err := cmd(context.Background(), args, env)
	switch {
	case errors.Is(err, errChecked):
		return nil
	case err == nil:
		return fmt.Errorf("%s: ran to its end instead of stopping before its work (a check hook is missing)", name)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return usageError{fmt.Errorf("%s: %s", name, c.explain(err.Error()))}
	}
	return fmt.Errorf("%s: %w", name, err)
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// explain names the variable behind each --flag a message mentions, when
// the value came from one: "--keep-last and ..." becomes "--keep-last
// (ETCD_KEEP_LAST) and ...". Values are not repeated (they may be secrets).
func (c *check) explain(msg string) string {
	if c.flags == nil {
		return msg
	}
	for name, from := range c.flags.from {
		re := regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `\b([^-]|$)`)
		msg = re.ReplaceAllString(msg, "--"+name+" ("+from+")$1")
	}
	return msg
}

// urls refuses an endpoint that is not an http(s) URL, naming the variable.
func (c *check) urls(env Env, endpoints string) error {
	for _, src := range []struct{ origin, value string }{
		{"ETCD_LEADER", env.Getenv("ETCD_LEADER")}, {c.flags.origin("endpoints"), endpoints},
	} {
		for _, ep := range etcdconn.ParseEndpoints(src.value) {
			if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
				return usagef("%s: %s: want http://host:port or https://host:port", src.origin, ep)
			}
		}
	}
	return nil
}

func (c *check) save(env Env, conn connFlags, s *backup.Saver, dst backup.Location) error {
	line, err := c.saveLine(env, conn, s, "save", dst.String())
	if err != nil {
		return err
	}
	c.plan = append(c.plan, line)
	c.saved = dst.String()
	return errChecked
}

// incremental is save's hook in --incremental mode: the job saves and
// prunes (save checks what it writes as it writes it).
func (c *check) incremental(env Env, conn connFlags, s *backup.Saver, dst, policy string) error {
	line, err := c.saveLine(env, conn, s, "save --incremental", dst+" (deltas under "+dst+"delta/; "+policy+")")
	if err != nil {
		return err
	}
	c.plan = append(c.plan, line)
	c.saved = ""
	return errChecked
}

func (c *check) saveLine(env Env, conn connFlags, s *backup.Saver, what, dst string) (string, error) {
	if err := c.urls(env, conn.endpoints); err != nil {
		return "", err
	}
	eps := make([]string, len(s.Conn.Endpoints))
	for i, ep := range s.Conn.Endpoints {
		eps[i] = ep
		if u, err := url.Parse(ep); err == nil && u.User != nil {
			eps[i] = u.Redacted() // a password in an endpoint is not shown
		}
	}
	line := fmt.Sprintf("%s: etcd %s -> %s", what, strings.Join(eps, ","), dst)
	if st, ok := s.Store.(backup.S3Store); ok {
		line += fmt.Sprintf(" on %s (region %s)", st.C.Endpoint(), st.C.Region())
		if st.SSE.Mode != "" {
			line += ", SSE " + st.SSE.String()
		}
	}
	line += ", " + describeLayers(s.Codec.Layers())
	if s.LockMode != "" {
		line += fmt.Sprintf(", object lock %s for %s", s.LockMode, s.LockRetain)
	}
	return line, nil
}

func (c *check) verify(src backup.Location) error {
	c.plan = append(c.plan, fmt.Sprintf("verify: %s (recorded SHA-256, snapshot trailer, status)", src))
	return errChecked
}

func (c *check) prune(o backup.PruneOptions) error {
	var keep []string
	if !o.Tiers.Empty() {
		keep = append(keep, o.Tiers.String())
	}
	if o.KeepWithin > 0 {
		keep = append(keep, "those younger than "+o.KeepWithin.String())
	}
	line := fmt.Sprintf("prune: s3://%s/%s: keep %s, never fewer than %d verified", o.Bucket, o.Prefix, strings.Join(keep, " and "), o.MinKeep)
	if c.saved == "" {
		line += " (points in time: each kept one keeps its full snapshot and the deltas before it)"
	}
	c.plan = append(c.plan, line)
	return errChecked
}

func (c *check) dump(env Env, conn connFlags, key string, dst backup.Location) error {
	if err := c.urls(env, conn.endpoints); err != nil {
		return err
	}
	if key == "" {
		key = "(every key)"
	}
	c.plan = append(c.plan, fmt.Sprintf("dump: keys under %s -> %s", key, dst))
	return errChecked
}
