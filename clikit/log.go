package clikit

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ParseLevel reads a log level: debug, info, warn or error ("" is info).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if strings.TrimSpace(s) == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("want debug, info, warn or error")
	}
	return l, nil
}

// NewHandler is the log handler of a tool: format text or json (""
// is text), at level.
func NewHandler(w io.Writer, format string, level slog.Leveler) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "", "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("want text or json")
}

// NewLogger is NewHandler's logger, with the level read by ParseLevel.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	h, err := NewHandler(w, format, l)
	if err != nil {
		return nil, err
	}
	return slog.New(h), nil
}
