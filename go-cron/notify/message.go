package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cronbox/envplate/subst"
	"cronbox/go-cron/run"
)

// DefaultTemplate is the message unless one is configured: what happened
// to which job where, the end of stderr, and the status page's link. A line
// whose fields are all empty (no stderr, no link) disappears.
const DefaultTemplate = "${JOB} ${EVENT} on ${HOST}: ${DETAIL}\n${STDERR}\n${STATUS_URL}"

// Fields are the names a template may use, as ${NAME} (with ep's syntax:
// ${NAME:-default} too). The template is not Go's text/template: any use of
// that package makes the linker keep every exported method of every
// reachable type, which cost 5.1 MB in the image's binary (measured).
var Fields = []string{
	"JOB", "EVENT", "HOST", "DETAIL", "RESULT", "EXIT_STATUS", "SIGNAL",
	"DURATION", "STARTED", "ENDED", "SLOT", "STDOUT", "STDERR", "STATUS_URL", "TIME",
}

// Lines and bytes of the output tails a message shows (STDOUT, STDERR):
// chat services cut long messages (Discord at 2,000 characters).
const (
	messageLines = 10
	messageBytes = 1500
)

// template is a parsed message template, line by line, so that a line
// whose fields are all empty can disappear (no stderr, no link). When a
// reference spans lines, the template is one piece.
type template struct {
	lines []*subst.Template
}

func parseTemplate(src string) (*template, error) {
	whole, err := subst.Parse(src)
	if err != nil {
		return nil, err
	}
	// Unknown names are refused now, not at the first failure.
	_, _, errs := whole.Render(subst.LookupFunc(func(name string) (subst.Value, bool, error) {
		if !slices.Contains(Fields, name) {
			return subst.Value{}, false, errors.New("no such field")
		}
		return subst.Value{S: "x"}, true, nil
	}), subst.Options{})
	if len(errs) > 0 {
		var re *subst.RefError
		if errors.As(errs[0], &re) {
			return nil, fmt.Errorf("%s: ${%s}: no such field (fields: %s)", re.Pos, re.Name, strings.Join(Fields, ", "))
		}
		return nil, errs[0]
	}
	t := &template{}
	for l := range strings.SplitSeq(src, "\n") {
		lt, err := subst.Parse(l)
		if err != nil {
			return &template{lines: []*subst.Template{whole}}, nil
		}
		t.lines = append(t.lines, lt)
	}
	return t, nil
}

// render fills the template in; a line with fields that renders blank is
// left out, and so are blank lines at either end.
func (t *template) render(fields map[string]string) string {
	var out []string
	for _, l := range t.lines {
		s, uses, _ := l.Render(subst.Map{Vars: fields}, subst.Options{})
		if len(uses) > 0 && strings.TrimSpace(s) == "" {
			continue
		}
		out = append(out, strings.TrimRight(s, " \t\r"))
	}
	return strings.Trim(strings.Join(out, "\n"), "\n")
}

// message is one event, rendered once for every destination.
type message struct {
	event   Event
	text    string // the whole message
	title   string // its first line (a mail's subject, a chat's title)
	body    string // the lines after the first
	payload []byte // the webhook's JSON
}

// webhookJSON is the webhook's payload.
type webhookJSON struct {
	Event     string `json:"event"`
	Job       string `json:"job"`
	Host      string `json:"host"`
	Time      string `json:"time"`
	Detail    string `json:"detail"`
	Message   string `json:"message"`
	StatusURL string `json:"status_url,omitempty"`
	// Run is the run as the status port shows it under "Last"; absent for
	// a stale job.
	Run any `json:"run,omitempty"`
}

func (n *Notifier) message(ev Event, detail string, res *run.Result, slot time.Time) *message {
	now := n.cfg.Now()
	f := map[string]string{
		"JOB": n.cfg.Job, "EVENT": string(ev), "HOST": n.cfg.Host, "DETAIL": detail,
		"STATUS_URL": n.cfg.StatusURL, "TIME": now.UTC().Format(time.RFC3339),
	}
	if res != nil {
		f["RESULT"] = resultOf(*res)
		f["EXIT_STATUS"] = fmt.Sprint(res.ExitStatus)
		f["SIGNAL"] = res.Signal
		f["DURATION"] = res.Duration().Round(time.Millisecond).String()
		f["STARTED"] = res.Start.UTC().Format(time.RFC3339)
		f["ENDED"] = res.End.UTC().Format(time.RFC3339)
		f["STDOUT"] = lastLines(res.Stdout)
		f["STDERR"] = lastLines(res.Stderr)
		if res.Pid == 0 && res.Error != "" && f["STDERR"] == "" {
			f["STDERR"] = res.Error
		}
	}
	if !slot.IsZero() {
		f["SLOT"] = slot.UTC().Format(time.RFC3339)
	}
	for k, v := range f {
		f[k] = n.red.String(v)
	}
	text := n.red.String(n.tmpl.render(f))
	m := &message{event: ev, text: text}
	m.title, m.body, _ = strings.Cut(text, "\n")
	w := webhookJSON{
		Event: string(ev), Job: f["JOB"], Host: f["HOST"], Time: f["TIME"], Detail: f["DETAIL"],
		Message: text, StatusURL: f["STATUS_URL"],
	}
	if res != nil {
		w.Run = n.cfg.Record(*res)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		buf.Reset()
		w.Run = nil
		enc.Encode(w) //nolint:errcheck // strings only
	}
	m.payload = []byte(n.red.String(buf.String()))
	return m
}

func resultOf(r run.Result) string {
	switch {
	case r.Pid == 0 && r.Error != "":
		return "error"
	case r.Signal != "":
		return "signal"
	case r.OK():
		return "success"
	default:
		return "failure"
	}
}

// lastLines is the end of an output tail for a message.
func lastLines(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > messageLines {
		lines = lines[len(lines)-messageLines:]
	}
	return keepEnd(strings.Join(lines, "\n"), messageBytes)
}

// errNoRecipient and friends are configuration errors of mail URLs.
var errNoRecipient = errors.New("no recipient: add ?to=address")
