// Package notify tells someone how go-cron's job is doing, and never gets in
// the job's way. It sends dead-man's-switch pings in the healthchecks.io
// protocol around every run (start, then success or failure with the output's
// tail), and notifications when the job's state changes (it fails, recovers,
// goes stale, or, if asked, succeeds) through a JSON webhook, chat and push
// services (shoutrrr URLs) and mail (smtp:// URLs).
//
// Every destination has its own bounded queue and worker: the scheduler only
// enqueues, so a slow, hung or dead receiver delays nothing but its own
// messages, costs bounded memory (the queue, and at most one abandoned send),
// and shows up in the log, in the counters and as the last error.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"cronbox/go-cron/redact"
	"cronbox/go-cron/run"
)

// Event is a change in the job's state that is notified.
type Event string

// The events.
const (
	Failure  Event = "failure"  // a run failed, and the one before it did not
	Recovery Event = "recovery" // the first success after a failure or staleness
	Stale    Event = "stale"    // no success within the max age
	Success  Event = "success"  // a success that is not a recovery (opt-in)
)

// DefaultEvents are the events notified unless configured otherwise.
const DefaultEvents = "failure,recovery,stale"

// ParseEvents reads a comma-separated list of events.
func ParseEvents(s string) (map[Event]bool, error) {
	out := map[Event]bool{}
	for e := range strings.SplitSeq(s, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		switch Event(e) {
		case Failure, Recovery, Stale, Success:
			out[Event(e)] = true
		case "":
		default:
			return nil, fmt.Errorf("%q: not an event (want failure, recovery, stale, success)", e)
		}
	}
	return out, nil
}

// MaxPingBody is the largest ping body healthchecks.io accepts (100 KB).
const MaxPingBody = 100_000

// Defaults of the delivery settings.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 5
	DefaultQueue   = 10
	// maxBackoff caps the wait between two attempts.
	maxBackoff = time.Minute
)

// Config is what a Notifier is built from.
type Config struct {
	Job       string // the job's name in messages
	Host      string // this replica, in messages
	StatusURL string // a link to the status page for messages ("": none)

	PingURL        string // healthchecks.io-style URL ("": no pings)
	PingExitStatus bool   // report failures as URL/<exit status> instead of URL/fail
	PingBody       int    // bytes of output in the final ping, at most MaxPingBody

	WebhookURL    string
	WebhookSecret string   // key of the X-Cronbox-Signature HMAC ("": unsigned)
	URLs          []string // smtp:// and chat or push service URLs

	On       map[Event]bool // which events notify (nil: DefaultEvents)
	Template string         // the message ("": DefaultTemplate)
	MaxAge   time.Duration  // stale after this long without a success (0: never)

	Timeout time.Duration // deadline of one attempt
	Retries int           // attempts after the first; the wait doubles from Backoff, at most a minute
	Queue   int           // messages waiting per destination; a full queue drops its oldest
	Backoff time.Duration // the first wait between attempts (0: one second)

	Record   func(run.Result) any // a run as the status port shows it (webhook "run")
	Redactor *redact.Redactor     // masks every outgoing message and log line
	Log      *slog.Logger
	Now      func() time.Time
	Version  string // go-cron's, in the User-Agent
	// Instance is this replica's id with --lock-etcd: runs Observe()d from
	// it are its own and already counted.
	Instance string
	// OnChange is called (without locks held) after the counters or the last
	// error changed; the status port refreshes its view of them.
	OnChange func()
}

// FieldError is a configuration error in one field; Field is the go-cron
// flag it comes from ("ping-url"), so the caller can name the flag or the
// variable the user set.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Check validates cfg's destinations, template and events without building
// anything: what --check and the start refuse.
func Check(cfg Config) error {
	_, err := build(cfg)
	return err
}

// Secrets lists the secret parts of cfg's URLs and the webhook secret, for
// a Redactor to mask wherever they might appear (error messages, output).
func Secrets(cfg Config) []string {
	out := []string{cfg.WebhookSecret}
	for _, u := range append([]string{cfg.PingURL, cfg.WebhookURL}, cfg.URLs...) {
		out = append(out, secretParts(u)...)
	}
	return out
}

// Notifier sends the pings and notifications of one job. A nil *Notifier
// does nothing, so callers need not check whether any is configured.
type Notifier struct {
	cfg   Config
	log   *slog.Logger
	red   *redact.Redactor
	tmpl  *template
	ping  *channel   // nil: no pings
	chans []*channel // the destinations of events (webhook, services)
	all   []*channel // ping first, then chans

	// sendCtx is the parent of every attempt; cancelled when Close gives up.
	sendCtx    context.Context
	cancelSend context.CancelFunc
	closing    chan struct{}
	wg         sync.WaitGroup
	startOnce  sync.Once
	closeOnce  sync.Once

	mu          sync.Mutex
	failing     bool      // the last run failed
	bad         bool      // a failure or staleness happened since the last success
	failures    int       // failed runs since the last success
	lastSuccess time.Time // own or observed
	lastEnd     time.Time // the latest run seen (own or observed)
	firstFire   time.Time
	staleSent   bool
	wake        chan struct{}
	lastErr     *LastError
}

type built struct {
	tmpl  *template
	ping  *channel
	chans []*channel
}

// build checks cfg and builds its channels (no goroutines yet).
func build(cfg Config) (*built, error) {
	b := &built{}
	src := cfg.Template
	if src == "" {
		src = DefaultTemplate
	}
	t, err := parseTemplate(src)
	if err != nil {
		return nil, &FieldError{"notify-template", err}
	}
	b.tmpl = t
	if cfg.PingBody < 0 || cfg.PingBody > MaxPingBody {
		return nil, &FieldError{"ping-body-bytes", fmt.Errorf("%d: want 0 to %d (healthchecks.io keeps at most 100 KB)", cfg.PingBody, MaxPingBody)}
	}
	if cfg.PingURL != "" {
		p, err := newPinger(cfg.PingURL, cfg.PingExitStatus)
		if err != nil {
			return nil, &FieldError{"ping-url", err}
		}
		b.ping = &channel{kind: "ping", display: Display(cfg.PingURL), s: p}
	}
	if cfg.WebhookURL != "" {
		w, err := newWebhook(cfg.WebhookURL, cfg.WebhookSecret)
		if err != nil {
			return nil, &FieldError{"webhook-url", err}
		}
		b.chans = append(b.chans, &channel{kind: "webhook", display: Display(cfg.WebhookURL), s: w})
	} else if cfg.WebhookSecret != "" {
		return nil, &FieldError{"webhook-secret-file", errors.New("a webhook secret without a webhook URL")}
	}
	for _, raw := range cfg.URLs {
		s, kind, err := newService(raw)
		if err != nil {
			return nil, &FieldError{"notify-url", err}
		}
		b.chans = append(b.chans, &channel{kind: kind, display: Display(raw), s: s})
	}
	if cfg.Timeout < 0 {
		return nil, &FieldError{"notify-timeout", fmt.Errorf("%s: must not be negative", cfg.Timeout)}
	}
	if cfg.Retries < 0 {
		return nil, &FieldError{"notify-retries", fmt.Errorf("%d: must not be negative", cfg.Retries)}
	}
	if cfg.Queue < 0 {
		return nil, &FieldError{"notify-queue", fmt.Errorf("%d: must not be negative", cfg.Queue)}
	}
	return b, nil
}

// New checks cfg and returns a Notifier, or nil (and no error) when cfg
// names no destination. Start it before use and Close it at the end.
func New(cfg Config) (*Notifier, error) {
	b, err := build(cfg)
	if err != nil {
		return nil, err
	}
	if b.ping == nil && len(b.chans) == 0 {
		return nil, nil
	}
	if cfg.On == nil {
		cfg.On, _ = ParseEvents(DefaultEvents)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Queue == 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.PingBody == 0 {
		cfg.PingBody = MaxPingBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Record == nil {
		cfg.Record = func(r run.Result) any { return r }
	}
	red := cfg.Redactor.With(Secrets(cfg)...)
	n := &Notifier{
		cfg: cfg, red: red, tmpl: b.tmpl, ping: b.ping, chans: b.chans,
		log:     cfg.Log.With("component", "notify"),
		closing: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	n.sendCtx, n.cancelSend = context.WithCancel(context.Background())
	env := setupEnv{client: newHTTPClient(cfg.Timeout), log: n.log, userAgent: "go-cron/" + cfg.Version}
	if b.ping != nil {
		n.all = append(n.all, b.ping)
	}
	n.all = append(n.all, b.chans...)
	for _, c := range n.all {
		c.n = n
		c.wake = make(chan struct{}, 1)
		c.s.setup(env)
	}
	return n, nil
}

// Start starts a worker per destination and the stale watch.
func (n *Notifier) Start() {
	if n == nil {
		return
	}
	n.startOnce.Do(func() {
		for _, c := range n.all {
			n.wg.Add(1)
			go func() { defer n.wg.Done(); c.work() }()
		}
		if n.cfg.MaxAge > 0 && len(n.chans) > 0 {
			n.wg.Add(1)
			go func() { defer n.wg.Done(); n.watchStale() }()
		}
		for _, c := range n.all {
			n.log.Info("notifications on", "channel", c.kind, "url", c.display)
		}
	})
}

// Close delivers what is queued until ctx is done, then abandons the rest
// (counted as dropped) and returns.
func (n *Notifier) Close(ctx context.Context) {
	if n == nil {
		return
	}
	n.closeOnce.Do(func() {
		close(n.closing)
		for _, c := range n.all {
			c.poke()
		}
		done := make(chan struct{})
		go func() { n.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			n.cancelSend()
			<-done
		}
		n.cancelSend()
	})
}

// Run is one run as the notifier follows it: its rid pairs the start and
// end pings.
type Run struct {
	n       *Notifier
	rid     string
	slot    time.Time
	started bool
}

// Begin is called when a run is about to start for slot.
func (n *Notifier) Begin(slot time.Time) *Run {
	if n == nil {
		return nil
	}
	return &Run{n: n, rid: newRID(), slot: slot}
}

// Started sends the start ping. It never blocks on the network.
func (r *Run) Started() {
	if r == nil || r.n.ping == nil {
		return
	}
	r.started = true
	r.n.ping.enqueue(r.n.startPing(r.rid))
}

// Finished sends the end ping and the event the run's result makes, if
// any. It never blocks on the network.
func (r *Run) Finished(res run.Result) {
	if r == nil {
		return
	}
	n := r.n
	if n.ping != nil {
		n.ping.enqueue(n.endPing(r.rid, res))
	}
	ev, detail := n.record(res)
	if ev != "" {
		n.notify(ev, detail, &res, r.slot)
	}
}

// record updates the state with an own run and returns the event it makes
// ("" for none) with the detail of the message.
func (n *Notifier) record(res run.Result) (Event, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if res.End.After(n.lastEnd) {
		n.lastEnd = res.End
	}
	n.poke()
	if res.OK() {
		ev, detail := Success, describe(res)
		if n.bad {
			ev = Recovery
			switch {
			case n.failures == 1:
				detail += "; the run before it failed"
			case n.failures > 1:
				detail += fmt.Sprintf("; the %d runs before it failed", n.failures)
			default:
				detail += "; the job was stale"
			}
		}
		n.failing, n.bad, n.failures, n.staleSent = false, false, 0, false
		if res.End.After(n.lastSuccess) {
			n.lastSuccess = res.End
		}
		return ev, detail
	}
	n.failures++
	n.bad = true
	if n.failing {
		return "", "" // still failing: the state has not changed
	}
	n.failing = true
	return Failure, describe(res)
}

// Observe takes in a run another replica finished (with --lock-etcd), so
// that this replica's state follows the job's: it notifies nothing itself.
func (n *Notifier) Observe(instance string, res run.Result) {
	if n == nil || instance == n.cfg.Instance || res.End.IsZero() {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !res.End.After(n.lastEnd) {
		return
	}
	n.lastEnd = res.End
	if res.OK() {
		n.failing, n.bad, n.failures, n.staleSent = false, false, 0, false
		n.lastSuccess = res.End
	} else {
		n.failing, n.bad = true, true
		n.failures++
	}
	n.poke()
}

// Scheduled records the next fire time; the first one starts the max-age
// clock before any run has succeeded (as the status port counts it).
func (n *Notifier) Scheduled(next time.Time) {
	if n == nil {
		return
	}
	n.mu.Lock()
	if n.firstFire.IsZero() {
		n.firstFire = next
	}
	n.mu.Unlock()
	n.poke()
}

// Skipped is part of the scheduler's Observer: a skipped run sends nothing.
func (n *Notifier) Skipped(string) {}

func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// watchStale sends the stale event once when no run has succeeded within
// the max age, counting from the last success or, before one, from the
// first fire time.
func (n *Notifier) watchStale() {
	for {
		n.mu.Lock()
		from, since := n.lastSuccess, "the last success at "+stamp(n.lastSuccess)
		if from.IsZero() {
			from, since = n.firstFire, "go-cron started (first fire time "+stamp(n.firstFire)+")"
		}
		var wait time.Duration = -1 // nothing to wait for until woken
		fire := false
		if !from.IsZero() && !n.staleSent {
			if wait = from.Add(n.cfg.MaxAge).Sub(n.cfg.Now()); wait <= 0 {
				fire = true
				n.staleSent, n.bad = true, true
			}
		}
		n.mu.Unlock()
		if fire {
			n.notify(Stale, "no successful run since "+since+", max age "+n.cfg.MaxAge.String(), nil, time.Time{})
			continue
		}
		var timer *time.Timer
		var fired <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			fired = timer.C
		}
		select {
		case <-n.closing:
		case <-n.wake:
		case <-fired:
		}
		if timer != nil {
			timer.Stop()
		}
		select {
		case <-n.closing:
			return
		default:
		}
	}
}

// notify renders the event's message and queues it on every destination,
// if the event is wanted.
func (n *Notifier) notify(ev Event, detail string, res *run.Result, slot time.Time) {
	if !n.cfg.On[ev] || len(n.chans) == 0 {
		return
	}
	m := n.message(ev, detail, res, slot)
	n.log.Info("notifying", "event", string(ev), "detail", detail, "channels", len(n.chans))
	for _, c := range n.chans {
		c.enqueue(item{what: string(ev), send: func(ctx context.Context) error { return c.s.(eventSender).send(ctx, m) }})
	}
}

// LastError is the last failed delivery, for the status JSON.
type LastError struct {
	Channel string // "ping", "webhook", "slack", "smtp", ...
	URL     string // redacted
	What    string // "start", "failure", ...
	Error   string // redacted
	Time    string // RFC 3339
}

// ChannelStatus is one destination's counters.
type ChannelStatus struct {
	Channel string
	URL     string // redacted
	Sent    uint64
	Failed  uint64 // given up after the retries
	Dropped uint64 // never tried: the queue was full, or go-cron stopped
	Queued  int
}

// Status is the notifier's part of the status JSON.
type Status struct {
	Channels  []ChannelStatus
	Events    []string   // the events that notify
	LastError *LastError `json:",omitempty"`
}

// Status returns the counters and the last error.
func (n *Notifier) Status() Status {
	if n == nil {
		return Status{}
	}
	s := Status{}
	for ev, on := range n.cfg.On {
		if on {
			s.Events = append(s.Events, string(ev))
		}
	}
	slices.Sort(s.Events)
	for _, c := range n.all {
		s.Channels = append(s.Channels, c.status())
	}
	n.mu.Lock()
	if n.lastErr != nil {
		e := *n.lastErr
		s.LastError = &e
	}
	n.mu.Unlock()
	return s
}

// Metrics appends gocron_notifications_total to a Prometheus text page.
func (n *Notifier) Metrics(b *strings.Builder) {
	if n == nil {
		return
	}
	b.WriteString("# HELP gocron_notifications_total Pings and notifications by channel (ping, webhook, or the service: slack, smtp, ...) and result: sent, failed (after the retries), dropped (queue full, or go-cron stopped first).\n")
	b.WriteString("# TYPE gocron_notifications_total counter\n")
	type key struct{ ch, res string }
	sums := map[key]uint64{}
	var kinds []string
	for _, c := range n.all {
		cs := c.status()
		if !slices.Contains(kinds, c.kind) {
			kinds = append(kinds, c.kind)
		}
		sums[key{c.kind, "sent"}] += cs.Sent
		sums[key{c.kind, "failed"}] += cs.Failed
		sums[key{c.kind, "dropped"}] += cs.Dropped
	}
	for _, k := range kinds {
		for _, res := range []string{"sent", "failed", "dropped"} {
			fmt.Fprintf(b, "gocron_notifications_total{channel=%q,result=%q} %d\n", k, res, sums[key{k, res}])
		}
	}
}

func (n *Notifier) setLastError(e LastError) {
	n.mu.Lock()
	n.lastErr = &e
	n.mu.Unlock()
}

func (n *Notifier) changed() {
	if n.cfg.OnChange != nil {
		n.cfg.OnChange()
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// describe says how a run ended, and how long it took.
func describe(r run.Result) string {
	d := r.Duration().Round(time.Millisecond).String()
	switch {
	case r.Pid == 0 && r.Error != "":
		return "could not start: " + r.Error
	case r.TimedOut:
		return "timed out after " + d + ", killed by " + r.Signal
	case r.Stopped:
		return "stopped by go-cron's shutdown after " + d + " (exit status " + fmt.Sprint(r.ExitStatus) + ")"
	case r.Signal != "":
		return "killed by " + r.Signal + " after " + d
	default:
		return "exit status " + fmt.Sprint(r.ExitStatus) + " after " + d
	}
}

// httpClient is shared by the ping and the webhook: their own transport
// (no proxy surprises from http.DefaultTransport's users), with deadlines.
func newHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = timeout
	tr.MaxIdleConnsPerHost = 2
	return &http.Client{Transport: tr, Timeout: timeout}
}
