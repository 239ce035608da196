package run

import (
	"strings"
	"testing"

	"cronbox/go-cron/redact"
)

func TestTailKeepsTheEnd(t *testing.T) {
	for _, chunk := range []int{1, 3, 7, 10, 64, 1000} {
		tl := NewTail(10, nil)
		var all strings.Builder
		for i := 0; all.Len() < 500; i++ {
			p := strings.Repeat(string(rune('a'+i%26)), chunk)
			all.WriteString(p)
			tl.Write([]byte(p))
		}
		s := all.String()
		if got, want := tl.String(), s[len(s)-10:]; got != want {
			t.Errorf("chunk %d: %q, want %q", chunk, got, want)
		}
	}
	tl := NewTail(10, nil)
	tl.Write([]byte("short"))
	if tl.String() != "short" {
		t.Errorf("got %q", tl.String())
	}
}

// A secret cut by the edge of the tail must not show its end.
func TestTailMasksASecretOnTheEdge(t *testing.T) {
	pats, _ := redact.ParsePatterns(redact.DefaultPatterns)
	red := redact.New([]string{"X_TOKEN=SECRETVALUE"}, pats)
	tl := NewTail(8, red)
	tl.Write([]byte("xxxxSECRETVALUEyyy"))
	if got := tl.String(); strings.Contains(got, "VALUE") || !strings.HasSuffix(got, "yyy") {
		t.Errorf("got %q", got)
	}
}
