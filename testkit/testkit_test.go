package testkit

import (
	"net"
	"net/http"
	"strconv"
	"strings"
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

func TestBufferKeepsTheStartOrTheEnd(t *testing.T) {
	first := &Buffer{Limit: 4}
	last := &Buffer{}
	last.KeepLast(4)
	for _, w := range []string{"ab", "cd", "ef", "gh", "ij"} {
		first.Write([]byte(w))
		last.Write([]byte(w))
	}
	if got := first.String(); got != "abcd" {
		t.Errorf("Limit 4: %q, want the first 4 bytes", got)
	}
	if got := string(last.Bytes()); !strings.HasSuffix(got, "ghij") || len(got) > 8 {
		t.Errorf("KeepLast(4): %q, want about the last 4 bytes", got)
	}
}

// FreePort stays out of the kernel's ephemeral range, where any listen on
// port 0 or outgoing connection on the machine may take the port before the
// caller binds it, and never hands out a port twice.
func TestFreePortIsBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if p >= low || p < 1024 {
			t.Fatalf("port %d: want one below the ephemeral range (from %d)", p, low)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("listen on the free port: %v", err)
		}
		l.Close()
	}
}
