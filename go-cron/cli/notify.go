package cli

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cronbox/clikit"
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
}

func (no *notifyOptions) flags(fs *clikit.FlagSet) {
	// The URLs carry tokens: secrets, which may come from NAME_FILE.
	fs.Secret(&no.pingURL, "ping-url", "dead-man's-switch URL (healthchecks.io protocol): URL/start when a run starts, URL on success, URL/fail on failure, with the output's tail", "GOCRON_PING_URL")
	fs.Bool(&no.pingExitStatus, "ping-exit-status", false, "report a failure as URL/<exit status> instead of URL/fail", "GOCRON_PING_EXIT_STATUS")
	fs.Int(&no.pingBody, "ping-body-bytes", notify.MaxPingBody, "bytes of the run's output (its end, masked) in the final ping; at most 100000", "GOCRON_PING_BODY_BYTES")
	fs.Secret(&no.webhookURL, "webhook-url", "POST each notification as JSON (the run as the status port shows it, job, host, event) to this URL", "GOCRON_WEBHOOK_URL")
	fs.String(&no.secretFile, "webhook-secret-file", "", "file holding the key of the X-Cronbox-Signature HMAC-SHA256 header (or the key itself in GOCRON_WEBHOOK_SECRET)", "GOCRON_WEBHOOK_SECRET_FILE")
	fs.Secret(&no.urls, "notify-url", "space-separated service URLs to notify: smtp://, slack://, discord://, teams://, telegram://, ntfy://, ... (shoutrrr's URL forms)", "GOCRON_NOTIFY_URLS")
	fs.String(&no.on, "notify-on", notify.DefaultEvents, "events that notify: failure, recovery, stale (needs --max-age), success (every one)", "GOCRON_NOTIFY_ON")
	fs.String(&no.template, "notify-template", "", "the message, with ${JOB}, ${EVENT}, ${HOST}, ${DETAIL}, ${STDERR}, ${STATUS_URL}, ... (default: "+strings.ReplaceAll(notify.DefaultTemplate, "\n", `\n`)+")", "GOCRON_NOTIFY_TEMPLATE")
	fs.String(&no.templateFile, "notify-template-file", "", "file holding the message template", "GOCRON_NOTIFY_TEMPLATE_FILE")
	fs.Duration(&no.timeout, "notify-timeout", notify.DefaultTimeout, "deadline of each attempt to ping or notify; also how long go-cron delivers what is queued when it stops", "GOCRON_NOTIFY_TIMEOUT")
	fs.Int(&no.retries, "notify-retries", notify.DefaultRetries, "attempts after a failed one (1s, 2s, 4s, ... apart, at most 1m)", "GOCRON_NOTIFY_RETRIES")
	fs.Int(&no.queue, "notify-queue", notify.DefaultQueue, "messages waiting per destination; when full, the oldest is dropped (and counted)", "GOCRON_NOTIFY_QUEUE")
	fs.String(&no.jobName, "job-name", "", "the job's name in notifications (default: $JOB, else the lock's name, else the command)", "GOCRON_JOB_NAME")
	fs.String(&no.statusURL, "status-url", "", "a link to this job's status page, for notifications", "GOCRON_STATUS_URL")
}

// resolve reads the files, checks everything and returns the notifier's
// configuration (the rest is filled in at start); errors are usage errors
// naming the flag or the variable that was set.
func (no *notifyOptions) resolve(fs *clikit.FlagSet, lookup clikit.Lookup) (notify.Config, error) {
	cfg := notify.Config{
		PingURL: no.pingURL, WebhookURL: no.webhookURL, URLs: strings.Fields(no.urls),
		PingExitStatus: no.pingExitStatus, PingBody: no.pingBody,
		Timeout: no.timeout, Retries: no.retries, Queue: no.queue, StatusURL: no.statusURL,
	}
	secret, _ := lookup("GOCRON_WEBHOOK_SECRET")
	if no.secretFile != "" {
		if secret != "" {
			return cfg, usagef("GOCRON_WEBHOOK_SECRET and %s: give one of them", fs.Origin("webhook-secret-file"))
		}
		s, err := clikit.ReadSecretFile(no.secretFile)
		if err != nil {
			return cfg, usagef("%s: %v", fs.Origin("webhook-secret-file"), err)
		}
		if secret = s; secret == "" {
			return cfg, usagef("%s: the file is empty", fs.Origin("webhook-secret-file"))
		}
	}
	if secret != "" && cfg.WebhookURL == "" {
		n := "GOCRON_WEBHOOK_SECRET"
		if no.secretFile != "" {
			n = fs.Origin("webhook-secret-file")
		}
		return cfg, usagef("%s: a webhook secret without a webhook URL (--webhook-url or GOCRON_WEBHOOK_URL)", n)
	}
	cfg.WebhookSecret = secret
	cfg.Template = no.template
	if no.templateFile != "" {
		if no.template != "" {
			return cfg, usagef("%s and %s: give one of them", fs.Origin("notify-template"), fs.Origin("notify-template-file"))
		}
		b, err := clikit.ReadSmallFile(no.templateFile)
		if err != nil {
			return cfg, usagef("%s: %v", fs.Origin("notify-template-file"), err)
		}
		cfg.Template = strings.TrimRight(string(b), "\r\n")
	}
	on, err := notify.ParseEvents(no.on)
	if err != nil {
		return cfg, usagef("%s: %v", fs.Origin("notify-on"), err)
	}
	cfg.On = on
	if no.statusURL != "" && !strings.HasPrefix(no.statusURL, "http://") && !strings.HasPrefix(no.statusURL, "https://") {
		return cfg, usagef("%s %q: want an http:// or https:// URL", fs.Origin("status-url"), no.statusURL)
	}
	if err := notify.Check(cfg); err != nil {
		var fe *notify.FieldError
		if errors.As(err, &fe) {
			field := fe.Field
			if field == "notify-template" && no.templateFile != "" {
				return cfg, usagef("%s %s: %v", fs.Origin("notify-template-file"), no.templateFile, fe.Err)
			}
			return cfg, usagef("%s: %v", fs.Origin(field), fe.Err)
		}
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

// job is the job's name in notifications.
func (no *notifyOptions) job(lookup clikit.Lookup, lockName string, command []string) string {
	if no.jobName != "" {
		return no.jobName
	}
	if j, ok := lookup("JOB"); ok && j != "" {
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
func startNotifier(cfg notify.Config, o *options, command []string, st *status.State, gate *lockGate, red *redact.Redactor, log *slog.Logger) (*notify.Notifier, error) {
	cfg.Job = o.notify.job(o.lookup, o.lock.name, command)
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
