package testkit

import (
	"net/http"
	"testing"
	"time"
)

// The S3 server answers real HTTP; an unsigned request is refused, which is
// the point of using versitygw over an auth-less fake.
func TestVersitygwStartsAndRefusesAnonymous(t *testing.T) {
	s := Versitygw(t)
	s.Bucket(t, "probe")
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(s.Endpoint + "/probe/")
	if err != nil {
		t.Fatalf("GET bucket: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous GET: status %d, want 403", resp.StatusCode)
	}
}
