package reliability

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// badCase is one bad input: the tool (a binary name, or "entrypoint" for the
// image's scripts/entrypoint --check under busybox sh), its arguments and
// environment. It must exit 2 with one stderr line naming want, and write
// nothing (no object in the bucket, no file in its working directory, its
// template unchanged).
type badCase struct {
	tool string
	args []string
	env  []string
	want string
	// known: the tool is wrong here today; the case asserts today's
	// behaviour (exit knownCode) and the table lists the finding.
	known     string
	knownCode int
}

func badInputCases(etcd, s3 string, f fixtures) []badCase {
	ep := "--endpoints=" + etcd
	dest := "s3://backups/bad/x.db"
	// The entrypoint's etcd job, complete and valid, before the one bad variable.
	etcdJob := []string{"JOB=etcd-backup", "GOCRON_SCHEDULE=0 0 * * * *", "ETCD_ENDPOINTS=" + etcd}
	esJob := []string{"JOB=es-backup", "GOCRON_SCHEDULE=0 0 * * * *", "ES_HOST_URL=http://127.0.0.1:9", "ES_REPOSITORY=repo"}
	e := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	return []badCase{
		// go-cron: schedules, durations, flags.
		{tool: "go-cron", args: []string{"61 * * * * *", "--", "true"}, want: "61"},
		{tool: "go-cron", args: []string{"* * *", "--", "true"}, want: "* * *"},
		{tool: "go-cron", args: []string{"@fortnightly", "--", "true"}, want: "@fortnightly"},
		{tool: "go-cron", args: []string{"@every -5s", "--", "true"}, want: "-5s"},
		{tool: "go-cron", args: []string{"CRON_TZ=Mars/Olympus 0 * * * * *", "--", "true"}, want: "Mars/Olympus"},
		{tool: "go-cron", args: []string{"--", "true"}, env: []string{"GOCRON_SCHEDULE=every tuesday"}, want: "GOCRON_SCHEDULE"},
		{tool: "go-cron", args: []string{"--timeout", "abc", "@hourly", "--", "true"}, want: "timeout"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_GRACE=forever"}, want: "GOCRON_GRACE"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_TIMEOUT=-1s"}, want: "GOCRON_TIMEOUT"},
		{tool: "go-cron", args: []string{"--tail-bytes", "-1", "@hourly", "--", "true"}, want: "tail-bytes"},
		{tool: "go-cron", args: []string{"-p", "99999", "@hourly", "--", "true"}, want: "99999"},
		{tool: "go-cron", args: []string{"--log-format", "xml", "@hourly", "--", "true"}, want: "xml"},
		{tool: "go-cron", args: []string{"--bogus", "@hourly", "--", "true"}, want: "bogus"},
		{tool: "go-cron", args: []string{"@hourly"}, want: "command"},
		{tool: "go-cron", args: []string{"--history", "many", "@hourly", "--", "true"}, want: "history"},
		// go-cron: five-field reading, Quartz syntax, --check's own flags.
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_FIELDS=minutes"}, want: "GOCRON_FIELDS"},
		{tool: "go-cron", args: []string{"--fields", "secs", "@hourly", "--", "true"}, want: "--fields"},
		{tool: "go-cron", args: []string{"0 0 L * *", "--", "true"}, want: `day-of-month "L"`},
		{tool: "go-cron", args: []string{"0 0 * * 1#2", "--", "true"}, want: `day-of-week "1#2"`},
		{tool: "go-cron", args: []string{"0 0 * * 8", "--", "true"}, want: "day-of-week"},
		{tool: "go-cron", args: []string{"--check", "--from", "yesterday", "@hourly", "--", "true"}, want: "--from"},
		{tool: "go-cron", args: []string{"--check", "@hourly", "--", "true"}, env: []string{"GOCRON_CHECK_FROM=2026-13-45"}, want: "GOCRON_CHECK_FROM"},
		{tool: "go-cron", args: []string{"--check", "--count", "0", "@hourly", "--", "true"}, want: "--count"},
		{tool: "go-cron", args: []string{"--check", "@hourly", "--", "true"}, env: []string{"GOCRON_CHECK_COUNT=many"}, want: "GOCRON_CHECK_COUNT"},
		{tool: "go-cron", args: []string{"--count", "5", "@hourly", "--", "true"}, want: "--count works with --check only"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_STATUS_FILE=run/status"}, want: "GOCRON_STATUS_FILE"},
		// go-cron: pings and notifications (issue 16).
		{tool: "go-cron", args: []string{"--ping-url", "ftp://hc.example/x", "@hourly", "--", "true"}, want: "ping-url"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_PING_URL=hc-ping.com/0f8a-uuid"}, want: "GOCRON_PING_URL"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_PING_URL_FILE=" + f.missing}, want: "GOCRON_PING_URL_FILE"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_PING_URL=https://hc.example/a", "GOCRON_PING_URL_FILE=" + f.tmplGood}, want: "GOCRON_PING_URL_FILE"},
		{tool: "go-cron", args: []string{"--ping-body-bytes", "200000", "@hourly", "--", "true"}, want: "ping-body-bytes"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_PING_EXIT_STATUS=maybe"}, want: "GOCRON_PING_EXIT_STATUS"},
		{tool: "go-cron", args: []string{"--webhook-url", "hooks.example/x", "@hourly", "--", "true"}, want: "webhook-url"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_WEBHOOK_URL_FILE=" + f.dir}, want: "GOCRON_WEBHOOK_URL_FILE"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_WEBHOOK_SECRET=a-key-with-no-hook"}, want: "GOCRON_WEBHOOK_SECRET"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_WEBHOOK_URL=https://hooks.example/x", "GOCRON_WEBHOOK_SECRET_FILE=" + f.empty}, want: "GOCRON_WEBHOOK_SECRET_FILE"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_NOTIFY_URLS=carrierpigeon://coop/roost"}, want: "GOCRON_NOTIFY_URLS"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_NOTIFY_URLS=smtp://mail.example/?to=ops@example.org"}, want: "GOCRON_NOTIFY_URLS"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_NOTIFY_URLS_FILE=" + f.unreadable}, want: "GOCRON_NOTIFY_URLS_FILE"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_NOTIFY_ON=failures"}, want: "GOCRON_NOTIFY_ON"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_NOTIFY_TEMPLATE=${JOB} ${NOPE}"}, want: "GOCRON_NOTIFY_TEMPLATE"},
		{tool: "go-cron", args: []string{"--notify-template-file", f.missing, "@hourly", "--", "true"}, want: "notify-template-file"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_NOTIFY_TEMPLATE_FILE=" + f.tmplUnclosed}, want: "GOCRON_NOTIFY_TEMPLATE_FILE"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_NOTIFY_TIMEOUT=soon"}, want: "GOCRON_NOTIFY_TIMEOUT"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_NOTIFY_RETRIES=-1"}, want: "GOCRON_NOTIFY_RETRIES"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_NOTIFY_QUEUE=many"}, want: "GOCRON_NOTIFY_QUEUE"},
		{tool: "go-cron", args: []string{"@hourly", "--", "true"}, env: []string{"GOCRON_STATUS_URL=status.example"}, want: "GOCRON_STATUS_URL"},

		// gof3r: endpoints, sizes, durations, secrets, flags.
		{tool: "gof3r", args: []string{"put", "-k", "k"}, want: "bucket"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--endpoint", "ftp://127.0.0.1:1"}, want: "ftp://127.0.0.1:1"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--endpoint", "http://[::1"}, want: "http://[::1"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "-s", "1KiB"}, want: "1KiB"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "-c", "0"}, want: "concurrency"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--retries", "-1"}, want: "retries"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--stall-timeout", "soon"}, want: "stall-timeout"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--bogus"}, want: "bogus"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k"}, env: []string{"AWS_SECRET_ACCESS_KEY=", "AWS_SECRET_ACCESS_KEY_FILE=" + f.missing}, want: "AWS_SECRET_ACCESS_KEY_FILE"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "-m", "X-Evil: 1"}, want: "X-Evil"},
		{tool: "gof3r", args: []string{"push", "-b", "backups", "-k", "k"}, want: "push"},
		{tool: "gof3r", args: []string{"cp", "a", "b"}, want: "s3://"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--acl", "everyone"}, want: "--acl"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--sse", "AES512"}, want: "--sse"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--sse", "SSE-C"}, want: "--sse"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--sse-c-key-file", f.missing}, want: "--sse-c-key-file"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--sse-c-key-file", f.garbage}, want: "--sse-c-key-file"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--sse-kms-key-id", ""}, want: "--sse-kms-key-id"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--object-lock-mode", "FOREVER"}, want: "--object-lock-mode"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--object-lock-mode", "GOVERNANCE", "--object-lock-retain", "-5d"}, want: "--object-lock-retain"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--object-lock-mode", "COMPLIANCE"}, want: "--object-lock-retain"},
		{tool: "gof3r", args: []string{"get", "-b", "backups", "-k", "k", "-v"}, want: "versionId"},
		{tool: "gof3r", args: []string{"get", "-b", "backups", "-k", "k", "--md5", "--no-md5"}, want: "md5"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k"}, env: []string{"AWS_S3_SSE=rot13"}, want: "AWS_S3_SSE"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k"}, env: []string{"AWS_S3_ACL=everyone"}, want: "AWS_S3_ACL"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k"}, env: []string{"AWS_S3_OBJECT_LOCK_MODE=FOREVER", "AWS_S3_OBJECT_LOCK_RETAIN=30d"}, want: "AWS_S3_OBJECT_LOCK_MODE"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k"}, env: []string{"AWS_S3_OBJECT_LOCK_MODE=GOVERNANCE", "AWS_S3_OBJECT_LOCK_RETAIN=soon"}, want: "AWS_S3_OBJECT_LOCK_RETAIN"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k"}, env: []string{"AWS_S3_OBJECT_LOCK_RETAIN=30d"}, want: "AWS_S3_OBJECT_LOCK_MODE"},
		{tool: "gof3r", args: []string{"get", "-b", "backups", "-k", "k"}, env: []string{"AWS_S3_SSE_C_KEY_FILE=" + f.missing}, want: "AWS_S3_SSE_C_KEY_FILE"},
		{tool: "gof3r", args: []string{"get", "-b", "backups", "-k", "k"}, env: []string{"AWS_S3_SSE_C_KEY=c2hvcnQ="}, want: "AWS_S3_SSE_C_KEY"},

		// etcd-backup: endpoints, durations, retention, TLS and password files.
		{tool: "etcd-backup", args: []string{"save", "--endpoints", "not a url", dest}, want: "not a url"},
		{tool: "etcd-backup", args: []string{"save", ep, "--dial-timeout", "abc", dest}, want: "dial-timeout"},
		{tool: "etcd-backup", args: []string{"save", ep, "--save-timeout", "-1h", dest}, want: "save-timeout"},
		{tool: "etcd-backup", args: []string{"prune", "--keep-last", "3", "--min-keep", "0", "s3://backups/etcd/"}, want: "min-keep"},
		{tool: "etcd-backup", args: []string{"prune", "--keep-last", "-1", "s3://backups/etcd/"}, want: "keep-last"},
		{tool: "etcd-backup", args: []string{"save", ep, "--cacert", f.missing, dest}, want: f.missing},
		{tool: "etcd-backup", args: []string{"save", ep, "--cacert", f.garbage, dest}, want: f.garbage},
		{tool: "etcd-backup", args: []string{"save", ep, "--cert", f.garbage, "--key", f.garbage, dest}, want: f.garbage},
		{tool: "etcd-backup", args: []string{"save", ep, "--password-file", f.missing, dest}, want: f.missing},
		{tool: "etcd-backup", args: []string{"save", ep, "s3://"}, want: "s3://"},
		{tool: "etcd-backup", args: []string{"save", ep, "--rate-limit", "fast", dest}, want: "rate-limit"},
		{tool: "etcd-backup", args: []string{"save", ep, "--s3-part-size", "1K", dest}, want: "s3-part-size"},
		{tool: "etcd-backup", args: []string{"save", ep, "--bogus", dest}, want: "bogus"},
		{tool: "etcd-backup", args: []string{"restore", dest}, want: "data-dir"},
		{tool: "etcd-backup", args: []string{"snapshot", dest}, want: "snapshot"},
		{tool: "etcd-backup", args: []string{"check"}, env: []string{"AWS_S3_BUCKET=Bad_Bucket"}, want: "AWS_S3_BUCKET"},
		{tool: "etcd-backup", args: []string{"check"}, env: []string{"ETCD_ENDPOINTS=" + etcd, "ETCD_KEEP_LAST=3", "ETCD_BACKUP_RATE_LIMIT=fast"}, want: "ETCD_BACKUP_RATE_LIMIT"},
		// etcd-backup: incremental backups and point-in-time restores (issue 20).
		{tool: "etcd-backup", args: []string{"save", ep, "--incremental", dest}, want: "--incremental"},
		{tool: "etcd-backup", args: []string{"save", ep, "--incremental", "--full-every", "every tuesday", "s3://backups/bad/"}, want: "full-every"},
		{tool: "etcd-backup", args: []string{"save", ep, "--full-after-deltas", "-1", dest}, want: "full-after-deltas"},
		{tool: "etcd-backup", args: []string{"save", ep, "--full-after-bytes", "lots", dest}, want: "full-after-bytes"},
		{tool: "etcd-backup", args: []string{"save", ep, "--deltas-during-full", "-1s", dest}, want: "deltas-during-full"},
		{tool: "etcd-backup", args: []string{"save", ep, "s3://backups/bad/"}, env: []string{"ETCD_BACKUP_INCREMENTAL=maybe"}, want: "ETCD_BACKUP_INCREMENTAL"},
		{tool: "etcd-backup", args: []string{"check"}, env: []string{"ETCD_ENDPOINTS=" + etcd, "ETCD_KEEP_LAST=3", "ETCD_BACKUP_INCREMENTAL=true", "ETCD_BACKUP_FULL_EVERY=fortnightly"}, want: "ETCD_BACKUP_FULL_EVERY"},
		{tool: "etcd-backup", args: []string{"check"}, env: []string{"ETCD_ENDPOINTS=" + etcd, "ETCD_KEEP_LAST=3", "ETCD_BACKUP_FULL_AFTER_BYTES=half%"}, want: "ETCD_BACKUP_FULL_AFTER_BYTES"},
		{tool: "etcd-backup", args: []string{"restore", "--to-revision", "latest", "--data-dir", filepath.Join(f.dir, "r1"), "s3://backups/bad/"}, want: "to-revision"},
		{tool: "etcd-backup", args: []string{"restore", "--to-time", "yesterday", "--data-dir", filepath.Join(f.dir, "r2"), "s3://backups/bad/"}, want: "to-time"},
		{tool: "etcd-backup", args: []string{"restore", "--to-revision", "5", "--data-dir", filepath.Join(f.dir, "r3"), dest}, want: "--to-revision"},
		// etcd-backup: how backups are stored (issue 15): compression, age, object lock, SSE, tiers.
		{tool: "etcd-backup", args: []string{"save", ep, "--compress", "lz4", dest}, want: "lz4"},
		{tool: "etcd-backup", args: []string{"save", ep, "--compress", "zstd", "--compress-level", "40", dest}, want: "compress-level"},
		{tool: "etcd-backup", args: []string{"save", ep, "--encrypt-to", "age1notarecipient", dest}, want: "age1notarecipient"},
		{tool: "etcd-backup", args: []string{"save", ep, dest}, env: []string{"ETCD_BACKUP_ENCRYPT_TO=ssh-ed25519 AAAAC3Nza"}, want: "ETCD_BACKUP_ENCRYPT_TO"},
		{tool: "etcd-backup", args: []string{"save", ep, "--recipients-file", f.missing, dest}, want: "recipients-file"},
		{tool: "etcd-backup", args: []string{"save", ep, "--passphrase-file", f.missing, dest}, want: "passphrase-file"},
		{tool: "etcd-backup", args: []string{"verify", "--identity", f.missing, dest}, want: "--identity"},
		{tool: "etcd-backup", args: []string{"restore", dest, "--data-dir", filepath.Join(f.dir, "never")}, env: []string{"ETCD_BACKUP_IDENTITY=AGE-SECRET-KEY-1NOTAKEY"}, want: "ETCD_BACKUP_IDENTITY"},
		{tool: "etcd-backup", args: []string{"save", ep, "--object-lock-mode", "FOREVER", "--object-lock-retain", "1d", dest}, want: "object-lock-mode"},
		{tool: "etcd-backup", args: []string{"save", ep, "--object-lock-mode", "COMPLIANCE", dest}, want: "object-lock-retain"},
		{tool: "etcd-backup", args: []string{"save", ep, dest}, env: []string{"AWS_S3_OBJECT_LOCK_RETAIN=30d"}, want: "AWS_S3_OBJECT_LOCK_RETAIN"},
		{tool: "etcd-backup", args: []string{"save", ep, "--object-lock-mode", "GOVERNANCE", "--object-lock-retain", "1d", dest}, want: "bucket backups"},
		{tool: "etcd-backup", args: []string{"save", ep, "--object-lock-mode", "GOVERNANCE", "--object-lock-retain", "1d", filepath.Join(f.dir, "never.db")}, want: "S3 destination"},
		{tool: "etcd-backup", args: []string{"save", ep, "--sse", "rot13", dest}, want: "--sse"},
		{tool: "etcd-backup", args: []string{"save", ep, "s3://backups/a//b/"}, want: "a//b/"},
		{tool: "etcd-backup", args: []string{"prune", "--keep-daily", "-2", "s3://backups/etcd/"}, want: "keep-daily"},
		{tool: "etcd-backup", args: []string{"prune", "s3://backups/etcd/"}, env: []string{"ETCD_BACKUP_KEEP_WEEKLY=some"}, want: "ETCD_BACKUP_KEEP_WEEKLY"},
		{tool: "etcd-backup", args: []string{"check"}, env: []string{"ETCD_ENDPOINTS=" + etcd, "ETCD_BACKUP_COMPRESS=brotli"}, want: "ETCD_BACKUP_COMPRESS"},
		// gof3r: compression and age (issue 15).
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--compress", "lz4"}, want: "--compress"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--encrypt-to", "age1nope"}, want: "age1nope"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k"}, env: []string{"GOF3R_COMPRESS=zstd", "GOF3R_COMPRESS_LEVEL=99"}, want: "GOF3R_COMPRESS_LEVEL"},
		{tool: "gof3r", args: []string{"get", "-b", "backups", "-k", "k", "--identity", f.missing}, want: "--identity"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--passphrase-file", f.empty}, want: "the file is empty"},
		{tool: "gof3r", args: []string{"put", "-b", "backups", "-k", "k", "--passphrase-file", f.missing}, env: []string{"GOF3R_PASSPHRASE=x"}, want: "GOF3R_PASSPHRASE and --passphrase-file are both set"},

		// ep: template syntax, unset variables, globs, flags.
		{tool: "ep", args: []string{f.tmplUnclosed}, want: f.tmplUnclosed},
		{tool: "ep", args: []string{f.tmplBadName}, want: f.tmplBadName},
		{tool: "ep", args: []string{f.tmplUnset}, want: "CRONBOX_UNSET_VARIABLE"},
		{tool: "ep", args: []string{filepath.Join(f.dir, "nothing-*.conf")}, want: "nothing-*.conf"},
		{tool: "ep", args: []string{"-z", f.tmplGood}, want: "-z"},
		{tool: "ep", args: []string{"-s", f.tmplDefault}, want: "CRONBOX_DEFAULTED"},
		{tool: "ep", args: []string{f.tmplGood, "--", "/nonexistent/cmd"}, want: "/nonexistent/cmd"},
		{tool: "ep", args: []string{"-c", "shift_jis", f.tmplGood}, want: "shift_jis"},
		{tool: "ep", args: []string{f.tmplDefault}, env: []string{"EP_CHARSET=latin1", "CRONBOX_DEFAULTED=€"}, want: "CRONBOX_DEFAULTED"},
		{tool: "ep", args: []string{"--output-dir=", f.tmplGood}, want: "output-dir"},

		// es-snapshot: URLs, durations, retention, TLS and secret files.
		{tool: "es-snapshot", args: []string{"create"}, env: []string{"ES_REPOSITORY="}, want: "repository"},
		{tool: "es-snapshot", args: []string{"create", "--repository", "r", "--url", "not a url"}, want: "not a url"},
		{tool: "es-snapshot", args: []string{"create", "--repository", "r", "--url", "ftp://127.0.0.1:9"}, want: "ftp://127.0.0.1:9"},
		{tool: "es-snapshot", args: []string{"create", "--repository", "r", "--request-timeout", "abc"}, want: "request-timeout"},
		{tool: "es-snapshot", args: []string{"create", "--repository", "r"}, env: []string{"ES_TIMEOUT=-5m"}, want: "ES_TIMEOUT"},
		{tool: "es-snapshot", args: []string{"prune", "--repository", "r", "--min-keep", "0", "--keep-last", "3"}, want: "min-keep"},
		{tool: "es-snapshot", args: []string{"prune", "--repository", "r", "--keep-last", "-1"}, want: "keep-last"},
		{tool: "es-snapshot", args: []string{"create", "--repository", "r", "--ca-file", f.missing}, want: f.missing},
		{tool: "es-snapshot", args: []string{"create", "--repository", "r", "--ca-file", f.garbage}, want: f.garbage},
		{tool: "es-snapshot", args: []string{"create", "--repository", "r", "--password-file", f.missing}, want: f.missing},
		{tool: "es-snapshot", args: []string{"create", "--repository", "r"}, env: []string{"ES_API_KEY_FILE=" + f.unreadable}, want: "ES_API_KEY_FILE"},
		{tool: "es-snapshot", args: []string{"create", "--repository", "r", "--pattern", "%Y-%Q"}, want: "pattern"},
		{tool: "es-snapshot", args: []string{"backup"}, want: "backup"},
		{tool: "es-snapshot", args: []string{"create", "--bogus"}, want: "bogus"},
		{tool: "es-snapshot", args: []string{"check"}, env: []string{"ES_HOST_URL=localhost:9200"}, want: "ES_HOST_URL"},
		{tool: "es-snapshot", args: []string{"check"}, env: []string{"ES_MIN_KEEP=0"}, want: "ES_MIN_KEEP"},
		{tool: "es-snapshot", args: []string{"prune", "--repository", "r", "--keep-daily", "-2"}, want: "keep-daily"},
		{tool: "es-snapshot", args: []string{"check"}, env: []string{"ES_KEEP_MONTHLY=lots"}, want: "ES_KEEP_MONTHLY"},

		// The image's environment, through entrypoint --check.
		{tool: "entrypoint", env: []string{"JOB=etcd-backup", "GOCRON_SCHEDULE="}, want: "GOCRON_SCHEDULE"},
		{tool: "entrypoint", env: e(etcdJob, "GOCRON_SCHEDULE=61 * * * * *"), want: "GOCRON_SCHEDULE"},
		{tool: "entrypoint", env: e(etcdJob, "GOCRON_TIMEOUT=soon"), want: "GOCRON_TIMEOUT"},
		{tool: "entrypoint", env: e(etcdJob, "GOCRON_PING_URL=ftp://hc.example/x"), want: "GOCRON_PING_URL"},
		{tool: "entrypoint", env: e(etcdJob, "GOCRON_NOTIFY_URLS=slack://"), want: "GOCRON_NOTIFY_URLS"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_S3_BUCKET=Bad_Bucket"), want: "AWS_S3_BUCKET"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_S3_BUCKET="), want: "AWS_S3_BUCKET"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_S3_ENDPOINT=ftp://s3.example.com"), want: "AWS_S3_ENDPOINT"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_S3_ENDPOINT=http://exa mple.com"), want: "AWS_S3_ENDPOINT"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_S3_REGION=EU WEST"), want: "AWS_S3_REGION"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_ACCESS_KEY_ID="), want: "AWS_ACCESS_KEY_ID"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_SECRET_ACCESS_KEY=", "AWS_SECRET_ACCESS_KEY_FILE="+f.missing), want: "AWS_SECRET_ACCESS_KEY_FILE"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_SECRET_ACCESS_KEY=", "AWS_SECRET_ACCESS_KEY_FILE="+f.dir), want: "AWS_SECRET_ACCESS_KEY_FILE"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_SECRET_ACCESS_KEY=", "AWS_SECRET_ACCESS_KEY_FILE="+f.empty), want: "AWS_SECRET_ACCESS_KEY_FILE"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_SECRET_ACCESS_KEY_FILE="+f.tmplGood), want: "AWS_SECRET_ACCESS_KEY"},
		{tool: "entrypoint", env: e(etcdJob, "ETCDCTL_PASSWORD_FILE="+f.missing), want: "ETCDCTL_PASSWORD_FILE"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_ENDPOINTS=", "ETCD_MACHINES=\"etcd1:2379\""), want: "etcd1:2379"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_ENDPOINTS=ftp://x:2379"), want: "ETCD_ENDPOINTS"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_KEEP_LAST=-1"), want: "ETCD_KEEP_LAST"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_KEEP_LAST=ten"), want: "ETCD_KEEP_LAST"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_MIN_KEEP=0"), want: "ETCD_MIN_KEEP"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_BACKUP_INCREMENTAL=yes please"), want: "ETCD_BACKUP_INCREMENTAL"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_BACKUP_INCREMENTAL=true", "ETCD_BACKUP_FULL_EVERY=soon"), want: "ETCD_BACKUP_FULL_EVERY"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_BACKUP_INCREMENTAL=true", "ETCD_BACKUP_FULL_AFTER_DELTAS=many"), want: "ETCD_BACKUP_FULL_AFTER_DELTAS"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_BACKUP_COMPRESS=lz4"), want: "ETCD_BACKUP_COMPRESS"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_BACKUP_ENCRYPT_TO=age1bad"), want: "ETCD_BACKUP_ENCRYPT_TO"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_BACKUP_PASSPHRASE_FILE="+f.missing), want: "ETCD_BACKUP_PASSPHRASE_FILE"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_BACKUP_IDENTITY_FILE="+f.missing), want: "ETCD_BACKUP_IDENTITY_FILE"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_S3_OBJECT_LOCK_MODE=COMPLIANCE"), want: "AWS_S3_OBJECT_LOCK_RETAIN"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_BACKUP_KEEP_DAILY=-5"), want: "ETCD_BACKUP_KEEP_DAILY"},
		{tool: "entrypoint", env: e(etcdJob, "ETCD_BACKUP_PREFIX=a/../b/"), want: "ETCD_BACKUP_PREFIX"},
		{tool: "entrypoint", env: e(esJob, "ES_HOST_URL=localhost:9200"), want: "ES_HOST_URL"},
		{tool: "entrypoint", env: e(esJob, "ES_REPOSITORY=bad/repo"), want: "ES_REPOSITORY"},
		{tool: "entrypoint", env: e(esJob, "ES_PASSWORD_FILE="+f.missing), want: "ES_PASSWORD_FILE"},
		{tool: "entrypoint", env: e(esJob, "ES_API_KEY_FILE="+f.unreadable), want: "ES_API_KEY_FILE"},
		{tool: "entrypoint", env: e(esJob, "ES_KEEP_LAST=-3"), want: "ES_KEEP_LAST"},
		{tool: "entrypoint", env: e(esJob, "ES_MIN_KEEP=0"), want: "ES_MIN_KEEP"},
		{tool: "entrypoint", env: e(esJob, "ES_KEEP_DAILY=-2"), want: "ES_KEEP_DAILY"},
		{tool: "entrypoint", env: e(esJob, "ES_REQUEST_TIMEOUT=abc"), want: "ES_REQUEST_TIMEOUT"},
		{tool: "entrypoint", env: e(etcdJob, "JOB=mysql-backup"), want: "mysql-backup"},
		{tool: "entrypoint", env: e(etcdJob, "TEMPLATES="+f.tmplUnclosed), want: "TEMPLATES"},
		{tool: "entrypoint", env: e(etcdJob, "TEMPLATES="+filepath.Join(f.dir, "none-*.conf")), want: "TEMPLATES"},
		{tool: "entrypoint", env: e(etcdJob, "TEMPLATES="+f.tmplGood+" "+f.tmplGoodElsewhere), want: "would both be rendered"},
		{tool: "entrypoint", env: e(etcdJob, "AWS_S3_ENDPOINT=s3.dualstack.eu-west-1.amazonaws.com", "AWS_S3_REGION=eu west"), want: "AWS_S3_REGION"},
	}
}

type fixtures struct {
	dir, missing, garbage, empty, unreadable                    string
	tmplUnclosed, tmplBadName, tmplUnset, tmplGood, tmplDefault string
	tmplGoodElsewhere                                           string // another good.conf, in a subdirectory
}

func makeFixtures(t *testing.T) fixtures {
	dir := t.TempDir()
	w := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f := fixtures{dir: dir, missing: filepath.Join(dir, "missing.pem")}
	f.garbage = w("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", 0o644)
	f.empty = w("empty", "", 0o644)
	f.unreadable = w("unreadable", "secret\n", 0o000)
	if os.Getuid() == 0 { // root reads a mode-000 file: a directory is unreadable as a file
		f.unreadable = filepath.Join(dir, "secret.d")
		os.Mkdir(f.unreadable, 0o755)
	}
	f.tmplUnclosed = w("unclosed.conf", "host = ${CRONBOX_HOST\n", 0o644)
	f.tmplBadName = w("badname.conf", "host = ${1HOST}\n", 0o644)
	f.tmplUnset = w("unset.conf", "host = ${CRONBOX_UNSET_VARIABLE}\n", 0o644)
	f.tmplGood = w("good.conf", "plain text\n", 0o644)
	f.tmplDefault = w("default.conf", "v = ${CRONBOX_DEFAULTED:-x}\n", 0o644)
	os.Mkdir(filepath.Join(dir, "elsewhere"), 0o755)
	f.tmplGoodElsewhere = w("elsewhere/good.conf", "other text\n", 0o644)
	return f
}

// snapshotDir lists every file under dir with its size and contents' start.
func snapshotDir(t *testing.T, dir string) string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		out = append(out, p+"="+string(b))
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestBadInput(t *testing.T) {
	st := newStore(t)
	etcd := etcdtest.Embed(t, etcdtest.Options{})
	f := makeFixtures(t)
	root := testkit.RepoRoot(t)
	busybox := testkit.Need(t, "busybox")
	before := snapshotDir(t, f.dir)
	cases := badInputCases(etcd.Endpoint, st.srv.Endpoint, f)
	if len(cases) < 50 {
		t.Fatalf("only %d cases", len(cases))
	}
	for i, c := range cases {
		name := c.tool + " " + strings.Join(c.args, " ") + " " + strings.Join(c.env, " ")
		if len(name) > 120 {
			name = name[:120]
		}
		t.Run(name, func(t *testing.T) {
			o := track(t, "bad input")
			work := t.TempDir()
			env := append(st.env(st.srv.Endpoint), "ES_REPOSITORY=r", "ES_HOST_URL=http://127.0.0.1:9")
			var p *proc
			if c.tool == "entrypoint" {
				env = append(env, "CRONBOX_JOBS_DIR="+filepath.Join(root, "scripts"), "CRONBOX_RENDER_DIR="+filepath.Join(t.TempDir(), "render"))
				env = append(env, c.env...)
				p = startIn(t, work, env, nil, busybox, "sh", filepath.Join(root, "scripts", "entrypoint"), "--check")
			} else {
				if c.tool == "go-cron" {
					env = append(env, "GOCRON_STATUS_ADDR=127.0.0.1:0")
				}
				p = startIn(t, work, append(env, c.env...), nil, c.tool, c.args...)
			}
			// A refusal is immediate; a tool that took the bad input and runs on
			// is stopped after a while (exit -1).
			timer := time.AfterFunc(10*time.Second, func() { p.cmd.Process.Kill() })
			code := p.wait(t)
			timer.Stop()
			stderr := strings.TrimSpace(p.stderr.String())
			lines := strings.Count(stderr, "\n") + 1
			ok := code == 2 && lines == 1 && strings.Contains(strings.ToLower(stderr), strings.ToLower(c.want))
			if !ok {
				switch {
				case c.known != "" && code == c.knownCode:
					o.known = c.known
				case c.known != "" && code == 2 && lines == 1:
					// The owner fixed it with wording of their own.
					t.Logf("fixed since: %s", stderr)
				default:
					t.Errorf("case %d: exit %d with %d stderr lines; want exit 2 and one line naming %q:\n%s", i, code, lines, c.want, stderr)
				}
			}
			if objs, _ := st.c.List(ctx(t), st.bucket, ""); len(objs) > 0 {
				if o.known == "" {
					t.Errorf("a refused run wrote %v", objs)
				}
				for _, obj := range objs {
					st.c.Remove(ctx(t), st.bucket, obj.Key)
				}
			}
			if ents, _ := os.ReadDir(work); len(ents) > 0 {
				t.Errorf("a refused run wrote into its working directory: %v", ents)
			}
			if now := snapshotDir(t, f.dir); now != before {
				t.Errorf("a refused run changed the fixtures (templates, secrets)")
				before = now
			}
		})
	}
}

// toleratedCase is an input that must not fail the work: go-cron's job
// result file (GOCRON_RESULT_FILE) describes a backup that is already good,
// so a file that cannot be made, written or read costs one warning naming
// it, and the tool still exits 0 having done its work.
type toleratedCase struct {
	tool string
	args []string
	env  []string
	warn string // in the warning
}

func toleratedCases(etcd string, f fixtures) []toleratedCase {
	sh := func(script string) []string { return []string{"--once", "--", "sh", "-c", script} }
	return []toleratedCase{
		{tool: "etcd-backup", args: []string{"save", "--endpoints=" + etcd, "s3://backups/tolerated/x.db"}, env: []string{"GOCRON_RESULT_FILE=" + f.missing + "/r.json"}, warn: "GOCRON_RESULT_FILE"},
		// The object the case before saved, verified into a result file that is not JSON.
		{tool: "etcd-backup", args: []string{"verify", "s3://backups/tolerated/x.db"}, env: []string{"GOCRON_RESULT_FILE=" + f.garbage}, warn: "GOCRON_RESULT_FILE"},
		{tool: "go-cron", args: sh(`test -z "${GOCRON_RESULT_FILE:-}"`), env: []string{"TMPDIR=" + f.missing}, warn: "GOCRON_RESULT_FILE"},
		{tool: "go-cron", args: sh(`echo 'size=12' > "$GOCRON_RESULT_FILE"`), warn: "GOCRON_RESULT_FILE: not JSON"},
		{tool: "go-cron", args: sh(`echo '[1]' > "$GOCRON_RESULT_FILE"`), warn: "want one JSON object"},
		{tool: "go-cron", args: sh(`head -c 70000 /dev/zero > "$GOCRON_RESULT_FILE"`), warn: "larger than"},
		{tool: "go-cron", args: sh(`rm "$GOCRON_RESULT_FILE"`), warn: "GOCRON_RESULT_FILE"},
	}
}

func TestToleratedInput(t *testing.T) {
	st := newStore(t)
	etcd := etcdtest.Embed(t, etcdtest.Options{})
	f := makeFixtures(t)
	for i, c := range toleratedCases(etcd.Endpoint, f) {
		name := c.tool + " " + strings.Join(c.args, " ") + " " + strings.Join(c.env, " ")
		if len(name) > 120 {
			name = name[:120]
		}
		t.Run(name, func(t *testing.T) {
			track(t, "tolerated input")
			env := append(st.env(st.srv.Endpoint), "GOCRON_STATUS_ADDR=127.0.0.1:0", "GOCRON_LOG_FORMAT=json")
			p := startIn(t, t.TempDir(), append(env, c.env...), nil, c.tool, c.args...)
			code := p.wait(t)
			var warnings []string
			for _, l := range strings.Split(p.stderr.String(), "\n") {
				if strings.Contains(l, "WARN") && strings.Contains(l, c.warn) {
					warnings = append(warnings, l)
				}
			}
			if code != 0 || len(warnings) != 1 {
				t.Errorf("case %d: exit %d, %d warnings naming %q; want exit 0 and one:\n%s", i, code, len(warnings), c.warn, p.stderr.String())
			}
		})
	}
}
