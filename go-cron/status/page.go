package status

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"strconv"
	"strings"
	"time"

	"cronbox/go-cron/run"
	"cronbox/jobresult"
)

// The page is written by hand into a buffer, every value through
// html.EscapeString: html/template (or text/template) would make the linker
// keep every exported method of every reachable type, megabytes in the
// multicall binary. It needs no JavaScript; a small inline script swaps in
// a fresh <main> every few seconds, and without it a <noscript> refresh
// reloads the page.

const pageStyle = `
:root{color:#1b1f24;background:#fff;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
body{margin:0 auto;max-width:72rem;padding:1rem}
h1{font-size:1.5rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:0 0 .5rem}
a{color:#0550ae}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.875rem}
code{overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:.5rem;margin:.25rem 0;overflow:auto;max-height:20rem;white-space:pre-wrap;overflow-wrap:anywhere}
pre[aria-label]::before{content:attr(aria-label);display:block;color:#57606a;font-family:system-ui,sans-serif;font-size:.75rem}
.health{font-size:1.2rem;font-weight:600;padding:.75rem 1rem;border-radius:.4rem;margin:0 0 1rem;border:2px solid}
.ok{background:#dafbe1;color:#0f5323;border-color:#1a7f37}
.bad{background:#ffebe9;color:#86061d;border-color:#cf222e}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem;margin-bottom:1rem}
section{border:1px solid #d0d7de;border-radius:.4rem;padding:.75rem 1rem;margin-bottom:1rem;min-width:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .75rem;margin:0}
dt{color:#57606a}
dd{margin:0;min-width:0;overflow-wrap:anywhere}
.muted{color:#57606a}
ol{margin:.25rem 0;padding-left:1.5rem}
table{border-collapse:collapse;width:100%}
caption{text-align:left;color:#57606a;padding-bottom:.25rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}
th{color:#57606a;font-weight:600}
.r-success{color:#116329;font-weight:600}
.r-failure,.r-lost{color:#a40e26;font-weight:600}
.r-signal,.r-error{color:#7d4e00;font-weight:600}
svg{width:100%;height:7rem;display:block}
footer{color:#57606a;font-size:.875rem}
@media (max-width:40rem){
 body{padding:.5rem}
 dl{grid-template-columns:1fr}
 dt{margin-top:.3rem}
 thead{position:absolute;left:-9999px}
 tr{display:block;border-bottom:1px solid #d0d7de;padding:.35rem 0}
 td{display:block;border:0;padding:.15rem 0 .15rem 6.5rem;text-indent:-6.5rem}
 td>*{text-indent:0}
 td::before{content:attr(data-label);display:inline-block;width:6.5rem;text-indent:0;color:#57606a;font-weight:600}
}
`

// pageScript swaps in a fresh <main> every 5 s while the page is visible,
// keeping open <details> open.
const pageScript = `(function(){var busy=false;setInterval(function(){if(busy||document.hidden)return;busy=true;
fetch(location.href,{headers:{Accept:"text/html"},cache:"no-store"}).then(function(r){return r.text()}).then(function(t){
var d=new DOMParser().parseFromString(t,"text/html"),m=d.getElementById("main"),o=document.getElementById("main");if(!m||!o)return;
var open=[];o.querySelectorAll("details[open]").forEach(function(e){open.push(e.id)});
o.replaceWith(m);open.forEach(function(id){var e=document.getElementById(id);if(e)e.open=true});document.title=d.title;
}).catch(function(){}).finally(function(){busy=false})},5000)})();`

// pageCSP allows the page's own inline style and script, by hash, and
// fetches to itself: nothing else.
var pageCSP = "default-src 'none'; style-src '" + cspHash(pageStyle) + "'; script-src '" + cspHash(pageScript) +
	"'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func cspHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
}

// Page returns the status page and the HTTP code it is served with (the
// JSON's). It is cached like the JSON, per second: it shows ages.
func (s *State) Page() ([]byte, int) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	health, code := s.healthCode(now)
	key := s.key(health, now, true)
	if b, ok := s.pageCache.get(key, now); ok {
		return b, code
	}
	p := &page{s: s, now: now, loc: s.cfg.Location}
	if p.loc == nil {
		p.loc = time.UTC
	}
	p.render(s.cfg.Redactor.String(health))
	return s.pageCache.put(key, now, p.Bytes()), code
}

// page renders the status page. Call with s.mu held.
type page struct {
	bytes.Buffer
	s   *State
	now time.Time
	loc *time.Location
}

// raw writes markup; text writes escaped text.
func (p *page) raw(parts ...string) {
	for _, s := range parts {
		p.WriteString(s)
	}
}

func (p *page) text(s string) { p.WriteString(html.EscapeString(s)) }

func (p *page) render(health string) {
	s := p.s
	red := s.cfg.Redactor
	command := make([]string, len(s.cfg.Command))
	for i, a := range s.cfg.Command {
		command[i] = red.String(a)
	}
	cmd := strings.Join(command, " ")
	state := "OK"
	if health != "" {
		state = "FAILING"
	}
	p.raw(`<!doctype html><html lang="en"><head><meta charset="utf-8">`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<title>`)
	p.text(state + " · go-cron · " + cmd)
	p.raw(`</title><link rel="icon" href="data:,"><noscript><meta http-equiv="refresh" content="30"></noscript><style>`,
		pageStyle, `</style></head><body><main id="main"><h1>go-cron: <code title="`)
	p.text(cmd)
	p.raw(`">`)
	p.text(short(cmd, 60))
	p.raw(`</code></h1>`)
	p.healthLine(health)
	p.raw(`<div class="cards">`)
	p.lastGood()
	p.nowCard()
	p.scheduleCard()
	p.raw(`</div>`)
	p.sections()
	p.runs()
	p.raw(`<footer><p>Updated `)
	p.time(p.now)
	p.raw(`. As JSON: <a href="?format=json">status</a>, <a href="`, PathRuns, `">runs</a>, <a href="`, PathMetrics,
		`">metrics</a>. go-cron `)
	p.text(red.String(s.cfg.Version))
	p.raw(`.</p></footer></main><script>`, pageScript, `</script></body></html>`)
}

// healthLine says at once whether the job is healthy and why.
func (p *page) healthLine(health string) {
	s := p.s
	if health != "" {
		p.raw(`<p id="health" class="health bad" role="status">Unhealthy: `)
		p.text(health)
		p.raw(`</p>`)
		return
	}
	p.raw(`<p id="health" class="health ok" role="status">Healthy: `)
	last, ok := s.lastRun()
	switch {
	case ok:
		p.text("the last run succeeded " + ago(p.now.Sub(last.End)))
	case len(s.running) > 0:
		p.text("the first run is going")
	default:
		p.text("no run has finished yet")
	}
	p.raw(`</p>`)
}

// lastRun is the run that decides health: the shared one with the lock.
func (s *State) lastRun() (run.Result, bool) {
	if sh := s.shared; sh != nil && sh.Last != nil {
		return sh.Last.Result, true
	}
	if s.last != nil {
		return *s.last, true
	}
	return run.Result{}, false
}

func (p *page) lastGood() {
	p.raw(`<section id="last-good" aria-labelledby="h-good"><h2 id="h-good">Last good backup</h2>`)
	g := p.s.good()
	if g == nil {
		p.raw(`<p id="good-summary">None yet: no run has succeeded.</p></section>`)
		return
	}
	r := g.report
	p.raw(`<p id="good-summary">`)
	switch {
	case r.Location != "":
		p.raw(`<code>`)
		p.text(r.Location)
		p.raw(`</code>`)
	case r.Snapshot != "":
		p.raw(`Snapshot <code>`)
		p.text(r.Snapshot)
		p.raw(`</code>`)
	case len(g.Report) == 0:
		p.raw(`The last successful run reported nothing (a job reports what it wrote in <code>`, jobresult.Env, `</code>).`)
	default:
		p.raw(`Reported, without a location.`)
	}
	p.raw(`</p><dl>`)
	p.dt("Finished")
	p.time(g.End)
	p.text(" (" + ago(p.now.Sub(g.End)) + ")")
	if g.Instance != "" {
		p.dt("Ran on")
		p.text(g.Instance)
	}
	if r.Kind != "" {
		p.dt("Kind")
		p.text(r.Kind)
	}
	if r.Repository != "" {
		p.dt("Repository")
		p.text(r.Repository)
	}
	if r.Size > 0 {
		p.dt("Size")
		p.raw(`<span title="`, strconv.FormatInt(r.Size, 10), ` bytes">`)
		p.text(bytesize(r.Size))
		p.raw(`</span>`)
	}
	if r.SHA256 != "" {
		p.dt("SHA-256")
		p.raw(`<code>`)
		p.text(r.SHA256)
		p.raw(`</code>`)
	}
	took := g.Duration()
	if r.Seconds > 0 {
		took = time.Duration(r.Seconds * float64(time.Second))
	}
	p.dt("Took")
	p.text(duration(took))
	if e := r.Etcd; e != nil {
		p.dt("etcd")
		p.text(join("revision "+itoa64(e.Revision), "member "+e.MemberID, "version "+e.Version, "cluster "+e.ClusterID))
	}
	if c := r.Chain; c != nil {
		p.dt("Chain")
		p.text("full snapshot ")
		p.raw(`<code>`)
		p.text(c.Full)
		p.raw(`</code>`)
		p.text(" (revision " + itoa64(c.FullRevision) + ", ")
		p.time(c.FullTime)
		p.text("), " + strconv.Itoa(c.Deltas) + " deltas since (" + bytesize(c.DeltaBytes) + ")")
		p.dt("Recovery point")
		p.raw(`<span id="recovery-point">`)
		p.text("revision " + itoa64(c.Revision) + ", read ")
		p.time(c.Time)
		p.text(" (" + ago(p.now.Sub(c.Time)) + ")")
		p.raw(`</span>`)
	}
	if x := r.Search; x != nil {
		p.dt("Snapshot")
		count := x.IndexCount
		if count == 0 {
			count = len(x.Indices)
		}
		p.text(join(x.State, strconv.Itoa(count)+" indices", strconv.Itoa(x.Shards.Successful)+" of "+strconv.Itoa(x.Shards.Total)+" shards", "version "+x.Version))
	}
	p.dt("Checks")
	checks := []string{yesNo(r.Verified, "verified", "not verified")}
	checks = append(checks, orElse(r.Compressed, "compressed with ", "not compressed"))
	checks = append(checks, orElse(r.Encrypted, "encrypted with ", "not encrypted"))
	checks = append(checks, orElse(r.Locked, "object lock ", "no object lock"))
	p.text(strings.Join(checks, ", "))
	if r.Message != "" {
		p.dt("Note")
		p.text(r.Message)
	}
	p.raw(`</dl></section>`)
}

func (p *page) nowCard() {
	s := p.s
	p.raw(`<section id="now" aria-labelledby="h-now"><h2 id="h-now">Now</h2>`)
	if len(s.running) == 0 {
		p.raw(`<p id="running">Idle.</p>`)
	}
	for _, pid := range sortedKeys(s.running) {
		lr := s.running[pid]
		p.raw(`<p id="running">Running since `)
		p.time(lr.start)
		p.text(" (for " + whole(p.now.Sub(lr.start)) + "), pid " + strconv.Itoa(pid) + ".")
		p.raw(`</p>`)
		if lr.out != nil {
			out, errs := lr.out.Tails()
			if out == "" && errs == "" {
				p.raw(`<p class="muted">No output yet.</p>`)
			} else {
				p.output("live-"+strconv.Itoa(pid), cutTail(out, HistoryTail), cutTail(errs, HistoryTail), true)
			}
		}
	}
	if !s.next.IsZero() {
		p.raw(`<p id="next-run">Next run `)
		p.time(s.next)
		p.text(" (" + until(s.next.Sub(p.now)) + ").")
		p.raw(`</p>`)
	}
	// With --lock-etcd: who runs the slot now (the "Lock" section's Holder).
	if lock := p.sectionFields("Lock"); lock != nil {
		holder, _ := lock["Holder"].(string)
		switch holding, _ := lock["Holding"].(bool); {
		case holding:
			p.raw(`<p id="lock-holder">This replica holds the lock.</p>`)
		case holder != "":
			p.raw(`<p id="lock-holder">The lock is held by `)
			p.text(holder)
			if slot, _ := lock["HeldSlot"].(string); slot != "" {
				p.text(" (slot " + slot + ")")
			}
			p.raw(`: this replica skips its slots.</p>`)
		}
	}
	if sh := s.shared; sh != nil && sh.Last != nil && sh.Last.Instance != "" {
		p.raw(`<p>The last run ran on `)
		p.text(sh.Last.Instance)
		p.raw(`.</p>`)
	}
	p.raw(`</section>`)
}

func (p *page) scheduleCard() {
	s := p.s
	red := s.cfg.Redactor
	p.raw(`<section id="schedule" aria-labelledby="h-schedule"><h2 id="h-schedule">Schedule</h2><p>Runs <code>`)
	cmd := make([]string, len(s.cfg.Command))
	for i, a := range s.cfg.Command {
		cmd[i] = red.String(a)
	}
	p.text(strings.Join(cmd, " "))
	p.raw(`</code> on <code>`)
	p.text(red.String(s.cfg.Schedule))
	p.raw(`</code>`)
	if s.cfg.Reading != "" {
		p.raw(`: `)
		p.text(s.cfg.Reading)
	}
	p.raw(`. Time zone `)
	p.text(zoneOf(p.loc, p.now))
	p.raw(`.</p>`)
	var next []time.Time
	if s.cfg.Upcoming != nil {
		next = s.cfg.Upcoming(p.now, 5)
	} else if !s.next.IsZero() {
		next = []time.Time{s.next}
	}
	if len(next) > 0 {
		p.raw(`<p>Next fire times:</p><ol id="next-fires">`)
		for _, t := range next {
			p.raw(`<li>`)
			p.time(t)
			p.raw(`</li>`)
		}
		p.raw(`</ol>`)
	}
	if s.cfg.MaxAge > 0 {
		p.raw(`<p>Unhealthy when no run succeeded within `)
		p.text(duration(s.cfg.MaxAge))
		p.raw(`.</p>`)
	}
	p.raw(`</section>`)
}

// sections shows what other parts added to the status (the lock): each
// key's top-level fields, as the JSON has them.
func (p *page) sections() {
	s := p.s
	for _, k := range sortedKeys(s.sections) {
		fields := p.sectionFields(k)
		if len(fields) == 0 {
			continue
		}
		id := "section-" + strings.ToLower(k)
		p.raw(`<section id="`)
		p.text(id)
		p.raw(`" aria-labelledby="h-`)
		p.text(id)
		p.raw(`"><h2 id="h-`)
		p.text(id)
		p.raw(`">`)
		p.text(k)
		p.raw(`</h2>`)
		if prob := s.sections[k].problem; prob != "" {
			p.raw(`<p class="r-failure">`)
			p.text(s.cfg.Redactor.String(prob))
			p.raw(`</p>`)
		}
		p.raw(`<dl>`)
		for _, f := range sortedKeys(fields) {
			if text := plain(fields[f]); text != "" {
				p.dt(f)
				p.text(text)
			}
		}
		p.raw(`</dl></section>`)
	}
}

// plain is a JSON value for people: "yes"/"no", lists joined with "; ",
// objects as "key value, key value".
func plain(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return yesNo(x, "yes", "no")
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if t := plain(e); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			if t := plain(x[k]); t != "" {
				parts = append(parts, k+" "+t)
			}
		}
		return strings.Join(parts, ", ")
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// sectionFields is section k's top-level fields as the JSON shows them
// (masked), or nil.
func (p *page) sectionFields(k string) map[string]any {
	sec, ok := p.s.sections[k]
	if !ok {
		return nil
	}
	b, err := json.Marshal(sec.value)
	if err != nil {
		return nil
	}
	var fields map[string]any
	if json.Unmarshal([]byte(p.s.cfg.Redactor.String(string(b))), &fields) != nil {
		return nil
	}
	return fields
}

// runs is the recent runs: a duration chart and a table.
func (p *page) runs() {
	h := p.s.history
	p.raw(`<section id="runs" aria-labelledby="h-runs"><h2 id="h-runs">Recent runs</h2>`)
	if len(h) == 0 {
		p.raw(`<p>No run has finished yet.</p></section>`)
		return
	}
	p.chart(h)
	p.raw(`<table id="runs-table"><caption>`)
	p.text(upper(runsWord(len(h))) + ", newest first.")
	p.raw(`</caption>`,
		`<thead><tr><th scope="col">Started</th><th scope="col">Took</th><th scope="col">Result</th><th scope="col">Exit</th><th scope="col">Reported</th><th scope="col">Output</th></tr></thead><tbody>`)
	for i := len(h) - 1; i >= 0; i-- {
		r := h[i]
		res := ResultOf(r.Result)
		p.raw(`<tr><td data-label="Started">`)
		p.time(r.Start)
		p.raw(`</td><td data-label="Took">`)
		p.text(duration(r.Duration()))
		p.raw(`</td><td data-label="Result" class="r-`, res, `">`, res, `</td><td data-label="Exit">`)
		p.text(describe(r.Result))
		p.raw(`</td><td data-label="Reported">`)
		p.reported(r)
		p.raw(`</td><td data-label="Output">`)
		p.output("run-"+strconv.FormatInt(r.Start.UnixNano(), 36), r.Stdout, r.Stderr, false)
		p.raw(`</td></tr>`)
	}
	p.raw(`</tbody></table></section>`)
}

// reported summarises what a run reported.
func (p *page) reported(r record) {
	switch {
	case r.ReportError != "":
		p.raw(`<span class="r-failure">`)
		p.text(p.s.cfg.Redactor.String(r.ReportError))
		p.raw(`</span>`)
	case len(r.Report) == 0:
		p.raw(`<span class="muted">nothing</span>`)
	default:
		what := r.report.Location
		if what == "" {
			what = r.report.Snapshot
		}
		if what == "" {
			what = r.report.Message
		}
		if what != "" {
			p.raw(`<code>`)
			p.text(what)
			p.raw(`</code>`)
		}
		if r.report.Size > 0 {
			p.text(" " + bytesize(r.report.Size))
		}
		if what == "" && r.report.Size == 0 {
			p.raw(`<code>`)
			p.text(string(r.Report))
			p.raw(`</code>`)
		}
	}
}

// output shows a run's output tails.
func (p *page) output(id, stdout, stderr string, open bool) {
	if stdout == "" && stderr == "" {
		p.raw(`<span class="muted">none</span>`)
		return
	}
	p.raw(`<details id="`, id, `"`)
	if open {
		p.raw(` open`)
	}
	p.raw(`><summary>output</summary>`)
	for _, o := range []struct{ name, text string }{{"stdout", stdout}, {"stderr", stderr}} {
		if o.text == "" {
			continue
		}
		p.raw(`<pre aria-label="`, o.name, `">`)
		p.text(o.text)
		p.raw(`</pre>`)
	}
	p.raw(`</details>`)
}

// chart draws each kept run's duration as a bar, oldest on the left.
func (p *page) chart(h []record) {
	const width, height, top = 600, 100, 2
	longest := time.Duration(0)
	failed := 0
	for _, r := range h {
		longest = max(longest, r.Duration())
		if !r.OK() {
			failed++
		}
	}
	scale := float64(height-top-2) / float64(max(longest, time.Millisecond))
	// At least ten slots, the newest run on the right edge: a few runs
	// make narrow bars, not a wall.
	slot := float64(width) / float64(max(len(h), 10))
	left := float64(width) - slot*float64(len(h))
	note := "Durations of " + runsWord(len(h)) + ", oldest on the left; the longest took " + duration(longest) + "; "
	switch failed {
	case 0:
		note += "all succeeded."
	case len(h):
		note += "none succeeded."
	default:
		note += strconv.Itoa(failed) + " did not succeed."
	}
	p.raw(`<svg id="chart" viewBox="0 0 `, strconv.Itoa(width), ` `, strconv.Itoa(height),
		`" preserveAspectRatio="none" role="img" aria-labelledby="chart-title" aria-describedby="chart-note"><title id="chart-title">Run durations</title>`,
		`<line x1="0" y1="`, strconv.Itoa(height-1), `" x2="`, strconv.Itoa(width), `" y2="`, strconv.Itoa(height-1), `" stroke="#57606a" stroke-width="2"/>`)
	for i, r := range h {
		bh := max(float64(r.Duration())*scale, 2)
		x := left + float64(i)*slot + slot*0.1
		res := ResultOf(r.Result)
		color := "#1a7f37"
		switch res {
		case ResultFailure:
			color = "#cf222e"
		case ResultSignal, ResultError:
			color = "#9a6700"
		}
		p.raw(`<rect x="`, ftoa(x), `" y="`, ftoa(float64(height-1)-bh), `" width="`, ftoa(slot*0.8), `" height="`, ftoa(bh), `" fill="`, color, `"><title>`)
		p.text(r.Start.In(p.loc).Format("2006-01-02 15:04:05") + ": " + duration(r.Duration()) + ", " + res)
		p.raw(`</title></rect>`)
	}
	p.raw(`</svg><p id="chart-note" class="muted">`)
	p.text(note)
	p.raw(`</p>`)
}

func (p *page) dt(name string) {
	p.raw(`<dt>`)
	p.text(name)
	p.raw(`</dt><dd>`)
}

// time writes t in the page's zone, machine-readable too.
func (p *page) time(t time.Time) {
	if t.IsZero() {
		p.raw(`never`)
		return
	}
	p.raw(`<time datetime="`, t.UTC().Format(time.RFC3339), `">`)
	p.text(t.In(p.loc).Format("2006-01-02 15:04:05 MST"))
	p.raw(`</time>`)
}

func zoneOf(loc *time.Location, now time.Time) string {
	if loc == time.Local {
		abbr, _ := now.In(loc).Zone()
		return "local (" + abbr + ")"
	}
	return loc.String()
}

// ago says how long ago something was that is d in the past.
func ago(d time.Duration) string {
	if d < time.Second {
		return "just now"
	}
	return whole(d) + " ago"
}

func until(d time.Duration) string {
	if d < time.Second {
		return "now"
	}
	return "in " + whole(d)
}

// whole is duration to the second.
func whole(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d < time.Minute {
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	}
	return duration(d)
}

// duration is d for people: "850 ms", "12.3 s", "4 min 5 s", "2 h 5 min", "3 d 4 h".
func duration(d time.Duration) string {
	switch {
	case d < 0:
		return "0 s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		return two(int64(d/time.Minute), "min", int64(d%time.Minute/time.Second), "s")
	case d < 48*time.Hour:
		return two(int64(d/time.Hour), "h", int64(d%time.Hour/time.Minute), "min")
	default:
		return two(int64(d/(24*time.Hour)), "d", int64(d%(24*time.Hour)/time.Hour), "h")
	}
}

func two(a int64, au string, b int64, bu string) string {
	s := strconv.FormatInt(a, 10) + " " + au
	if b > 0 {
		s += " " + strconv.FormatInt(b, 10) + " " + bu
	}
	return s
}

// bytesize is n in binary units: "512 B", "1.2 MiB".
func bytesize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i:i+1] + "iB"
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func itoa64(i int64) string {
	if i == 0 {
		return ""
	}
	return strconv.FormatInt(i, 10)
}

// join joins the parts whose value (the last word) is not empty.
func join(parts ...string) string {
	var keep []string
	for _, s := range parts {
		if !strings.HasSuffix(s, " ") && s != "" {
			keep = append(keep, s)
		}
	}
	return strings.Join(keep, ", ")
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func orElse(v, prefix, none string) string {
	if v == "" {
		return none
	}
	return prefix + v
}

// runsWord is "the last run" or "the last 3 runs".
func runsWord(n int) string {
	if n == 1 {
		return "the last run"
	}
	return "the last " + strconv.Itoa(n) + " runs"
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// short cuts s to n characters, with an ellipsis.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
