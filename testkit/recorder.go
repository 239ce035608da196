package testkit

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Request is one request a Recorder received.
type Request struct {
	Method string
	Path   string // with the query: "/ping/start?rid=..."
	Header http.Header
	Body   string
}

// Recorder is an HTTP server on loopback that records every request and
// answers as told: a status code, or hanging until the test ends (a
// receiver that accepts and never answers).
type Recorder struct {
	URL string // http://127.0.0.1:PORT

	mu     sync.Mutex
	reqs   []Request
	status int
	hang   bool
	stop   chan struct{}
}

// NewRecorder starts a Recorder answering 200 and stops it when the test
// ends.
func NewRecorder(t testing.TB) *Recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Recorder{URL: "http://" + ln.Addr().String(), status: http.StatusOK, stop: make(chan struct{})}
	srv := &http.Server{Handler: r}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() {
		close(r.stop)
		srv.Close()
	})
	return r
}

// ServeHTTP records the request, then answers.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(req.Body, 4<<20))
	r.mu.Lock()
	r.reqs = append(r.reqs, Request{Method: req.Method, Path: req.URL.RequestURI(), Header: req.Header.Clone(), Body: string(b)})
	status, hang := r.status, r.hang
	r.mu.Unlock()
	if hang {
		select {
		case <-r.stop:
		case <-req.Context().Done():
		}
		return
	}
	// JSON, since some clients parse the answer (shoutrrr's ntfy does).
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, "{}")
}

// Answer makes the next requests get status.
func (r *Recorder) Answer(status int) {
	r.mu.Lock()
	r.status, r.hang = status, false
	r.mu.Unlock()
}

// Hang makes the next requests hang until the test ends.
func (r *Recorder) Hang() {
	r.mu.Lock()
	r.hang = true
	r.mu.Unlock()
}

// Requests returns the requests so far whose path starts with prefix.
func (r *Recorder) Requests(prefix string) []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Request
	for _, q := range r.reqs {
		if strings.HasPrefix(q.Path, prefix) {
			out = append(out, q)
		}
	}
	return out
}
