package lock

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"cronbox/go-cron/run"
)

// holdRenewals passes every request to the real transport except lease
// renewals, which it holds for a while and then fails. It touches neither
// the request's context nor the client's idle-connection pool, which Close
// also uses: holding a renewal orders nothing between the keeper and Close.
type holdRenewals struct {
	next http.RoundTripper
	hold time.Duration
}

func (h holdRenewals) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/v3/lease/keepalive" {
		time.Sleep(h.hold)
		return nil, errors.New("renewal held by the test")
	}
	return h.next.RoundTrip(r)
}

// Issue 13.6: Close while a lease renewal is in flight. The keeper read
// l.client without the mutex while Close set it to nil; under -race this
// test failed with a data race on Locker.client (read in the keeper, write
// in Close). The keeper now renews with the client its lease was granted
// with, and Close waits for it before closing that client.
//
// The test waits for the held renewal by the clock, not by observing it:
// an observation would order the keeper's read before Close's write and
// hide the race from the detector. A late timer can only make the test miss
// the old race, never fail the fixed code.
func TestCloseDuringKeepAlive(t *testing.T) {
	srv := startEtcd(t, nil)
	l := newLocker(t, srv.endpoint, "a") // TTL 2s: the first renewal starts 667 ms after the claim
	cli, err := l.conn()
	if err != nil {
		t.Fatal(err)
	}
	cli.http.Transport = holdRenewals{next: cli.http.Transport, hold: 2 * time.Second}
	c, err := l.Claim(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(l.cfg.TTL/3 + time.Second) // the first renewal is held now, until 2.67 s
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Close has waited for the keeper: the lease is reported lost at once.
	select {
	case <-c.Lost():
	default:
		t.Errorf("after Close the claim's lease is not reported lost")
	}
	// A finish after Close says it could not record the run; no panic.
	if err := c.Finish(context.Background(), run.Result{ExitStatus: 0}); err == nil {
		t.Errorf("Finish after Close: no error")
	}
}
