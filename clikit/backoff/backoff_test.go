package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDoublesUpToTheCeiling(t *testing.T) {
	b := New(100*time.Millisecond, time.Second)
	var got []time.Duration
	for range 6 {
		got = append(got, b.Next())
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	if d := New(time.Second, time.Millisecond).Next(); d != time.Second {
		t.Errorf("a ceiling below the first wait: %v", d)
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	cause := errors.New("stopping")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := Sleep(ctx, time.Hour); !errors.Is(err, cause) {
		t.Errorf("Sleep on an ended context: %v, want its cause", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep: %v", err)
	}
}
