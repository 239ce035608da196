package snapshot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cronbox/es-snapshot/esclient"
)

// fakeNode keeps snapshots by name: a PUT creates one (400 if it exists), a
// GET answers it in state (SUCCESS when empty) or 404.
type fakeNode struct {
	mu    sync.Mutex
	snaps map[string]bool
	puts  int
	state string
}

func (n *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	name := snapshotName(r)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPut:
		n.puts++
		if n.snaps[name] {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"type":"invalid_snapshot_name_exception","reason":"[r:%s] Invalid snapshot name [%s], snapshot with the same name already exists"},"status":400}`, name, name)
			return
		}
		n.snaps[name] = true
		w.Write([]byte(`{"accepted":true}`))
	case n.snaps[name]:
		state := n.state
		if state == "" {
			state = "SUCCESS"
		}
		fmt.Fprintf(w, `{"snapshots":[{"snapshot":%q,"state":%q,"start_time_in_millis":1,"end_time_in_millis":2,"shards":{"total":1,"successful":1,"failed":0}}]}`, name, state)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"type":"snapshot_missing_exception","reason":"[r:%s] is missing"},"status":404}`, name)
	}
}

// snapshotName is the last element of a /_snapshot/REPO/NAME request.
func snapshotName(r *http.Request) string { return r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:] }

// faulty breaks the connection of chosen requests: before the request
// reaches the server (refused) or after (reset before the answer).
type faulty struct {
	mu    sync.Mutex
	fault func(r *http.Request) string // "", "refuse" or "reset"
	seen  []string
}

func (f *faulty) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	what := f.fault(r)
	f.seen = append(f.seen, r.Method+" "+what)
	f.mu.Unlock()
	switch what {
	case "refuse":
		return nil, fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED)
	case "reset":
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return nil, fmt.Errorf("read tcp: %w", syscall.ECONNRESET)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestCreateRetriesABrokenConnection(t *testing.T) {
	cases := []struct {
		name     string
		existing bool
		fault    func(n *int) func(r *http.Request) string
		ok       bool
		puts     int
	}{
		{"GETs refused three times", false, func(n *int) func(r *http.Request) string {
			return func(r *http.Request) string {
				if r.Method == http.MethodGet && *n < 3 {
					*n++
					return "refuse"
				}
				return ""
			}
		}, true, 1},
		{"PUT refused before the server: sent again", false, func(n *int) func(r *http.Request) string {
			return func(r *http.Request) string {
				if r.Method == http.MethodPut && *n == 0 {
					*n++
					return "refuse"
				}
				return ""
			}
		}, true, 1},
		{"PUT reached the server, answer lost: not sent again", false, func(n *int) func(r *http.Request) string {
			return func(r *http.Request) string {
				if r.Method == http.MethodPut && *n == 0 {
					*n++
					return "reset"
				}
				return ""
			}
		}, true, 1},
		{"PUT of a name that existed before: the refusal stands", true, func(n *int) func(r *http.Request) string {
			return func(r *http.Request) string {
				if r.Method == http.MethodPut && *n == 0 {
					*n++
					return "reset"
				}
				return ""
			}
		}, false, 1},
		{"PUT refused for good: fails by the deadline", false, func(n *int) func(r *http.Request) string {
			return func(r *http.Request) string {
				if r.Method == http.MethodPut {
					return "refuse"
				}
				return ""
			}
		}, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			node := &fakeNode{snaps: map[string]bool{}}
			if c.existing {
				node.snaps["s1"] = true
			}
			srv := httptest.NewServer(node)
			defer srv.Close()
			var n int
			ft := &faulty{fault: c.fault(&n)}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			cl, err := esclient.New(esclient.Config{URL: srv.URL, Transport: ft, Logger: log, RequestTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			r := &Runner{Client: cl, Log: log, Progress: io.Discard, PollMin: time.Millisecond, PollMax: 10 * time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err = r.Create(ctx, "r", "s1", esclient.CreateRequest{})
			if (err == nil) != c.ok {
				t.Fatalf("err %v, want ok=%v; requests %v", err, c.ok, ft.seen)
			}
			if node.puts != c.puts {
				t.Errorf("the server saw %d PUTs, want %d; requests %v", node.puts, c.puts, ft.seen)
			}
		})
	}
}

func TestOnlyGETsAreRetriedByTheClient(t *testing.T) {
	node := &fakeNode{snaps: map[string]bool{}}
	srv := httptest.NewServer(node)
	defer srv.Close()
	ft := &faulty{fault: func(r *http.Request) string { return "refuse" }}
	cl, err := esclient.New(esclient.Config{URL: srv.URL, Transport: ft, RetryFor: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.GetSnapshot(context.Background(), "r", "s"); !esclient.IsConnError(err) || len(ft.seen) < 2 {
		t.Errorf("GET: %v after %d tries; want a connection error after retries", err, len(ft.seen))
	}
	ft.seen = nil
	if err := cl.DeleteSnapshots(context.Background(), "r", []string{"s"}); !esclient.IsConnError(err) || len(ft.seen) != 1 {
		t.Errorf("DELETE: %v after %d tries; want one try", err, len(ft.seen))
	}
}

// heldPut answers GETs from node; a PUT is recorded in node when started is
// true (the server took the request) and then gets no answer until the
// client goes away.
type heldPut struct {
	node    *fakeNode
	started bool
	held    chan struct{} // closed when a PUT is being held
}

func (h *heldPut) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		h.node.ServeHTTP(w, r)
		return
	}
	h.node.mu.Lock()
	h.node.puts++
	if h.started {
		h.node.snaps[snapshotName(r)] = true
	}
	h.node.mu.Unlock()
	io.Copy(io.Discard, r.Body) // read: the server then sees the client go away
	close(h.held)
	<-r.Context().Done()
}

// A signal (or the deadline) that cuts the create request off before its
// answer: the snapshot may have started all the same. Create asks once and
// reports what the server has, as the wait would have, and sends no second
// PUT. (The e2e test signals a real node at that moment only by chance.)
func TestCreateCutOffBeforeTheAnswer(t *testing.T) {
	cases := []struct {
		name    string
		started bool
		state   string
		ok      bool
		want    string
	}{
		{"the server started it", true, "IN_PROGRESS", false, "still IN_PROGRESS when interrupted after 0s; it goes on in the server"},
		{"the server finished it", true, "SUCCESS", true, ""},
		{"the server failed it", true, "FAILED", false, "create snapshot s1 in repository r: FAILED"},
		{"the server had not started it", false, "", false, "the request was cut off when interrupted; the server had not started it when asked afterwards"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			node := &fakeNode{snaps: map[string]bool{}, state: c.state}
			h := &heldPut{node: node, started: c.started, held: make(chan struct{})}
			srv := httptest.NewServer(h)
			defer srv.Close()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			cl, err := esclient.New(esclient.Config{URL: srv.URL, Logger: log, RequestTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(1000, 0)
			r := &Runner{Client: cl, Log: log, Progress: io.Discard, PollMin: time.Millisecond, PollMax: 10 * time.Millisecond,
				Now: func() time.Time { return now }}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-h.held
				cancel() // the signal, while the server holds the PUT
			}()
			s, err := r.Create(ctx, "r", "s1", esclient.CreateRequest{})
			switch {
			case c.ok && (err != nil || s == nil || s.State != "SUCCESS"):
				t.Fatalf("got %v, %v; want the finished snapshot", s, err)
			case !c.ok && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v; want an error with %q", err, c.want)
			}
			if node.puts != 1 {
				t.Errorf("the server saw %d PUTs, want 1", node.puts)
			}
		})
	}
}
