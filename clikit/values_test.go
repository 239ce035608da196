package clikit

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90s": 90 * time.Second, "1h30m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "1.5d": 36 * time.Hour,
		"1d12h": 36 * time.Hour, " 2d ": 48 * time.Hour, "0": 0, "-1s": -time.Second, "-1d12h": -36 * time.Hour,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "5", "d", "1dd", "1d-2h", "xd", "1e400d", "1d5"} {
		if _, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), "not a duration") {
			t.Errorf("ParseDuration(%q): %v, want an error", in, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"20971520": 20 << 20, "512K": 512 << 10, "8M": 8 << 20, "8mb": 8 << 20, "8MiB": 8 << 20, "1G": 1 << 30, "2T": 2 << 40, "0": 0,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "8X", "M", "99999999999T"} {
		if _, err := ParseSize(in); err == nil || !strings.Contains(err.Error(), "not a size") {
			t.Errorf("ParseSize(%q): %v, want an error", in, err)
		}
	}
}

func TestParseEndpoints(t *testing.T) {
	for in, want := range map[string][]string{
		`"http://a:2379,http://b:2379"`:               {"http://a:2379", "http://b:2379"},
		` "http://a:2379","http://b:2379/" c:2379,, `: {"http://a:2379", "http://b:2379", "c:2379"},
		"http://a:2379\thttp://b:2379\n":              {"http://a:2379", "http://b:2379"},
		" , ":                                         nil,
		"":                                            nil,
		`'http://a:2379, http://b:2379/'`:             {"http://a:2379", "http://b:2379"},
		"127.0.0.1:2379":                              {"127.0.0.1:2379"},
		` "" `:                                        nil,
	} {
		if got := ParseEndpoints(in); !slices.Equal(got, want) {
			t.Errorf("ParseEndpoints(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := OneLine("open x:\n  no such file\tor directory\n"); got != "open x:; no such file or directory" {
		t.Errorf("OneLine: %q", got)
	}
}
