// Package clikit is how every cronbox tool reads its configuration and
// talks back on the command line: a flag set whose flags fall back to
// environment variables (and NAME_FILE secrets) and can say where each value
// came from; usage errors, which are exit status 2; durations that take
// days; sizes; endpoint lists; one-line messages; the logger. One small
// package, so that a flag, a variable and its mistakes read the same in
// every tool.
package clikit

import (
	"errors"
	"fmt"
	"strings"
)

// UsageError is a mistake in the command line or the configuration: the
// tool exits with status 2 and a message naming the flag or variable.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef is a usage error with a formatted message (%w wraps).
func Usagef(format string, a ...any) error {
	return &UsageError{fmt.Errorf(format, a...)}
}

// Usage marks err as a usage error (nil stays nil).
func Usage(err error) error {
	if err == nil || IsUsage(err) {
		return err
	}
	return &UsageError{err}
}

// IsUsage reports whether err is (or wraps) a usage error.
func IsUsage(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue)
}

// ExitCode is the exit status for err: 0 for nil, 2 for a usage error, 1
// for anything else (the work failed).
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case IsUsage(err):
		return 2
	default:
		return 1
	}
}

// OneLine folds a message onto one line: line breaks become "; " and runs
// of white space one space, so that a tool's stderr says one thing per line.
func OneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")), " ")
}
