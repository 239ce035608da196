// Package faults puts a real TCP proxy (Shopify's toxiproxy, used as a
// library, in-process) between a program under test and a server, so a test
// can add latency, bandwidth limits, resets mid-body, timeouts, slow closes,
// or take the server away and bring it back, without touching either side.
//
//	p := faults.New(t, s3.Host)            // listens on 127.0.0.1:0
//	p.Add(t, faults.Upstream, "bandwidth", faults.Attrs{"rate": 2048})
//	... point the tool at p.Addr ...
package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Stream says which direction a toxic acts on.
type Stream string

const (
	// Upstream is client -> server (a request body: an upload).
	Upstream Stream = "upstream"
	// Downstream is server -> client (a response body: a download).
	Downstream Stream = "downstream"
)

// Attrs are a toxic's attributes (see toxiproxy's README: latency{latency,
// jitter} ms, bandwidth{rate} KB/s, reset_peer{timeout} ms, timeout{timeout}
// ms, slow_close{delay} ms, slicer{average_size, size_variation, delay},
// limit_data{bytes}).
type Attrs map[string]any

// Proxy is one proxy from Addr to an upstream address.
type Proxy struct {
	Addr     string // 127.0.0.1:PORT, what the tool under test dials
	Upstream string

	mu    sync.Mutex
	p     *toxiproxy.Proxy
	n     int
	state bool
}

var (
	serverOnce sync.Once
	server     *toxiproxy.ApiServer
)

func apiServer() *toxiproxy.ApiServer {
	serverOnce.Do(func() {
		// The toxics log through zerolog's global logger at trace level.
		zerolog.SetGlobalLevel(zerolog.Disabled)
		server = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	})
	return server
}

// New starts a proxy to upstream (host:port) on a free loopback port and
// stops it when the test ends.
func New(t testing.TB, upstream string) *Proxy {
	t.Helper()
	name := fmt.Sprintf("%s-%d", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()), time.Now().UnixNano())
	p := toxiproxy.NewProxy(apiServer(), name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("faults: start proxy to %s: %v", upstream, err)
	}
	fp := &Proxy{Addr: p.Listen, Upstream: upstream, p: p, state: true}
	t.Cleanup(fp.stop)
	return fp
}

func (p *Proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state {
		p.p.Stop()
		p.state = false
	}
}

// URL is "http://" + Addr.
func (p *Proxy) URL() string { return "http://" + p.Addr }

// Add adds a toxic of type typ on stream and returns its name (for Remove).
func (p *Proxy) Add(t testing.TB, stream Stream, typ string, attrs Attrs) string {
	t.Helper()
	p.mu.Lock()
	p.n++
	name := fmt.Sprintf("%s_%s_%d", typ, stream, p.n)
	p.mu.Unlock()
	b, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": string(stream), "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		t.Fatalf("faults: %v", err)
	}
	if _, err := p.p.Toxics.AddToxicJson(bytes.NewReader(b)); err != nil {
		t.Fatalf("faults: add %s toxic on %s: %v", typ, stream, err)
	}
	return name
}

// Remove takes a toxic away (the link heals: later bytes pass untouched).
func (p *Proxy) Remove(t testing.TB, name string) {
	t.Helper()
	if err := p.p.Toxics.RemoveToxic(t.Context(), name); err != nil {
		t.Fatalf("faults: remove toxic %s: %v", name, err)
	}
}

// Down stops the proxy: open connections are cut and new ones are refused,
// as if the server went away. Up brings it back on the same address.
func (p *Proxy) Down(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state {
		p.p.Stop()
		p.state = false
	}
}

// Up restarts a stopped proxy on the same address.
func (p *Proxy) Up(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state {
		return
	}
	var err error
	for i := 0; i < 50; i++ { // the old listener's port may linger a moment
		p.p.Listen = p.Addr
		if err = p.p.Start(); err == nil {
			p.state = true
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("faults: restart proxy on %s: %v", p.Addr, err)
}

// SetUpstream points the proxy at a new upstream (a server restarted on
// another port), cutting the open connections.
func (p *Proxy) SetUpstream(t testing.TB, upstream string) {
	t.Helper()
	p.Down(t)
	p.mu.Lock()
	p.p.Upstream = upstream
	p.Upstream = upstream
	p.mu.Unlock()
	p.Up(t)
}

// Refuses reports whether nothing accepts connections on Addr.
func (p *Proxy) Refuses() bool {
	c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}
