package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cronbox/go-cron/notify"
	"cronbox/go-cron/redact"
	"cronbox/go-cron/scheduler"
	"cronbox/go-cron/status"
)

// notifyOptions are the pings and notifications flags (see package notify).
type notifyOptions struct {
	pingURL        string
	pingExitStatus bool
	pingBody       int
	webhookURL     string
	secretFile     string // --webhook-secret-file
	urls           string // space-separated service URLs
	on             string
	template       string
	templateFile   string
	timeout        time.Duration
	retries        int
	queue          int
	jobName        string
	statusURL      string

	env map[string]string // flag -> its variable
}

func (no *notifyOptions) flags(
	str func(p *string, name, env, def, help string),
	dur func(p *time.Duration, name, env string, def time.Duration, help string),
	boolean func(p *bool, name, env, help string),
	integer func(p *int, name, env string, def int, help string),
) {
	no.env = map[string]string{}
	s := func(p *string, name, env, def, help string) { no.env[name] = env; str(p, name, env, def, help) }
	i := func(p *int, name, env string, def int, help string) {
		no.env[name] = env
		integer(p, name, env, def, help)
	}
	s(&no.pingURL, "ping-url", "GOCRON_PING_URL", "", "dead-man's-switch URL (healthchecks.io protocol): URL/start when a run starts, URL on success, URL/fail on failure, with the output's tail; also GOCRON_PING_URL_FILE")
	boolean(&no.pingExitStatus, "ping-exit-status", "GOCRON_PING_EXIT_STATUS", "report a failure as URL/<exit status> instead of URL/fail")
	no.env["ping-exit-status"] = "GOCRON_PING_EXIT_STATUS"
	i(&no.pingBody, "ping-body-bytes", "GOCRON_PING_BODY_BYTES", notify.MaxPingBody, "bytes of the run's output (its end, masked) in the final ping; at most 100000")
	s(&no.webhookURL, "webhook-url", "GOCRON_WEBHOOK_URL", "", "POST each notification as JSON (the run as the status port shows it, job, host, event) to this URL; also GOCRON_WEBHOOK_URL_FILE")
	s(&no.secretFile, "webhook-secret-file", "GOCRON_WEBHOOK_SECRET_FILE", "", "file holding the key of the X-Cronbox-Signature HMAC-SHA256 header (or the key itself in GOCRON_WEBHOOK_SECRET)")
	s(&no.urls, "notify-url", "GOCRON_NOTIFY_URLS", "", "space-separated service URLs to notify: smtp://, slack://, discord://, teams://, telegram://, ntfy://, ... (shoutrrr's URL forms); also GOCRON_NOTIFY_URLS_FILE")
	s(&no.on, "notify-on", "GOCRON_NOTIFY_ON", notify.DefaultEvents, "events that notify: failure, recovery, stale (needs --max-age), success (every one)")
	s(&no.template, "notify-template", "GOCRON_NOTIFY_TEMPLATE", "", "the message, with ${JOB}, ${EVENT}, ${HOST}, ${DETAIL}, ${STDERR}, ${STATUS_URL}, ... (default: "+strings.ReplaceAll(notify.DefaultTemplate, "\n", `\n`)+")")
	s(&no.templateFile, "notify-template-file", "GOCRON_NOTIFY_TEMPLATE_FILE", "", "file holding the message template")
	dur(&no.timeout, "notify-timeout", "GOCRON_NOTIFY_TIMEOUT", notify.DefaultTimeout, "deadline of each attempt to ping or notify; also how long go-cron delivers what is queued when it stops")
	no.env["notify-timeout"] = "GOCRON_NOTIFY_TIMEOUT"
	i(&no.retries, "notify-retries", "GOCRON_NOTIFY_RETRIES", notify.DefaultRetries, "attempts after a failed one (1s, 2s, 4s, ... apart, at most 1m)")
	i(&no.queue, "notify-queue", "GOCRON_NOTIFY_QUEUE", notify.DefaultQueue, "messages waiting per destination; when full, the oldest is dropped (and counted)")
	s(&no.jobName, "job-name", "GOCRON_JOB_NAME", "", "the job's name in notifications (default: $JOB, else the lock's name, else the command)")
	s(&no.statusURL, "status-url", "GOCRON_STATUS_URL", "", "a link to this job's status page, for notifications")
}

// resolve reads the _FILE variables, checks everything and returns the
// notifier's configuration (the rest is filled in at start); errors are
// usage errors naming the flag or the variable that was set.
func (no *notifyOptions) resolve(environ []string, fromFlag map[string]bool) (notify.Config, error) {
	name := func(flag string) string {
		if env := no.env[flag]; env != "" && !fromFlag[flag] {
			if v, ok := getenv(environ, env); ok && v != "" {
				return env
			}
		}
		return "--" + flag
	}
	// fromFile fills *val from the variable env_FILE when it is set.
	fromFile := func(flag, env string, val *string) error {
		file, ok := getenv(environ, env+"_FILE")
		if !ok || file == "" {
			return nil
		}
		if *val != "" {
			return usagef("%s and %s_FILE: give one of them", name(flag), env)
		}
		b, err := readSmallFile(file)
		if err != nil {
			return usagef("%s_FILE: %v", env, err)
		}
		*val = strings.TrimRight(string(b), "\r\n")
		return nil
	}
	cfg := notify.Config{
		PingExitStatus: no.pingExitStatus, PingBody: no.pingBody,
		Timeout: no.timeout, Retries: no.retries, Queue: no.queue, StatusURL: no.statusURL,
	}
	cfg.PingURL, cfg.WebhookURL = no.pingURL, no.webhookURL
	if err := fromFile("ping-url", "GOCRON_PING_URL", &cfg.PingURL); err != nil {
		return cfg, err
	}
	if err := fromFile("webhook-url", "GOCRON_WEBHOOK_URL", &cfg.WebhookURL); err != nil {
		return cfg, err
	}
	urls := no.urls
	if err := fromFile("notify-url", "GOCRON_NOTIFY_URLS", &urls); err != nil {
		return cfg, err
	}
	cfg.URLs = strings.Fields(urls)
	secret, _ := getenv(environ, "GOCRON_WEBHOOK_SECRET")
	if no.secretFile != "" {
		if secret != "" {
			return cfg, usagef("GOCRON_WEBHOOK_SECRET and %s: give one of them", name("webhook-secret-file"))
		}
		b, err := readSmallFile(no.secretFile)
		if err != nil {
			return cfg, usagef("%s: %v", name("webhook-secret-file"), err)
		}
		if secret = strings.TrimRight(string(b), "\r\n"); secret == "" {
			return cfg, usagef("%s: the file is empty", name("webhook-secret-file"))
		}
	}
	if secret != "" && cfg.WebhookURL == "" {
		n := "GOCRON_WEBHOOK_SECRET"
		if no.secretFile != "" {
			n = name("webhook-secret-file")
		}
		return cfg, usagef("%s: a webhook secret without a webhook URL (--webhook-url or GOCRON_WEBHOOK_URL)", n)
	}
	cfg.WebhookSecret = secret
	cfg.Template = no.template
	if no.templateFile != "" {
		if no.template != "" {
			return cfg, usagef("%s and %s: give one of them", name("notify-template"), name("notify-template-file"))
		}
		b, err := readSmallFile(no.templateFile)
		if err != nil {
			return cfg, usagef("%s: %v", name("notify-template-file"), err)
		}
		cfg.Template = strings.TrimRight(string(b), "\r\n")
	}
	on, err := notify.ParseEvents(no.on)
	if err != nil {
		return cfg, usagef("%s: %v", name("notify-on"), err)
	}
	cfg.On = on
	if no.statusURL != "" && !strings.HasPrefix(no.statusURL, "http://") && !strings.HasPrefix(no.statusURL, "https://") {
		return cfg, usagef("%s %q: want an http:// or https:// URL", name("status-url"), no.statusURL)
	}
	if err := notify.Check(cfg); err != nil {
		var fe *notify.FieldError
		if errors.As(err, &fe) {
			field := fe.Field
			if field == "notify-template" && no.templateFile != "" {
				return cfg, usagef("%s %s: %v", name("notify-template-file"), no.templateFile, fe.Err)
			}
			return cfg, usagef("%s: %v", name(field), fe.Err)
		}
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

// readSmallFile reads a secret, URL or template file, refusing what is
// clearly not one (a directory, megabytes).
func readSmallFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("%s: larger than 1 MiB", name)
	}
	return b, nil
}

// job is the job's name in notifications.
func (no *notifyOptions) job(environ []string, lockName string, command []string) string {
	if no.jobName != "" {
		return no.jobName
	}
	if j, ok := getenv(environ, "JOB"); ok && j != "" {
		return j
	}
	if lockName != "" {
		return lockName
	}
	if len(command) >= 2 && (command[0] == "sh" || filepath.Base(command[0]) == "sh") {
		return filepath.Base(command[len(command)-1])
	}
	return filepath.Base(command[0])
}

// withoutNotifyVars is environ without go-cron's notification settings:
// secrets the job has no business seeing.
func withoutNotifyVars(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GOCRON_PING_URL", "GOCRON_PING_URL_FILE", "GOCRON_WEBHOOK_URL", "GOCRON_WEBHOOK_URL_FILE",
			"GOCRON_WEBHOOK_SECRET", "GOCRON_WEBHOOK_SECRET_FILE", "GOCRON_NOTIFY_URLS", "GOCRON_NOTIFY_URLS_FILE":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// observers tells every observer what the scheduler decides.
type observers []scheduler.Observer

func (os observers) Scheduled(next time.Time) {
	for _, o := range os {
		o.Scheduled(next)
	}
}

func (os observers) Skipped(reason string) {
	for _, o := range os {
		o.Skipped(reason)
	}
}

// startNotifier completes cfg with what is known at start (the job's name,
// the replica, the status port's view of a run), builds the notifier,
// shows its counters on the status port and starts it. It returns nil when
// nothing is to be pinged or notified.
func startNotifier(cfg notify.Config, o *options, environ, command []string, st *status.State, gate *lockGate, red *redact.Redactor, log *slog.Logger) (*notify.Notifier, error) {
	cfg.Job = o.notify.job(environ, o.lock.name, command)
	cfg.Host, _ = os.Hostname()
	if gate != nil {
		cfg.Host = gate.l.Instance()
		cfg.Instance = cfg.Host
	}
	if !o.once {
		cfg.MaxAge = o.maxAge
	}
	cfg.Record = st.RunJSON
	cfg.Redactor, cfg.Log, cfg.Version = red, log, Version
	var n *notify.Notifier
	cfg.OnChange = func() { st.SetSection("Notifications", n.Status(), "") }
	n, err := notify.New(cfg)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if n == nil {
		return nil, nil
	}
	st.SetSection("Notifications", n.Status(), "")
	st.AddMetrics(n.Metrics)
	if gate != nil {
		gate.observe = n.Observe
	}
	n.Start()
	return n, nil
}
