package procmem

import (
	"runtime/debug"
	"testing"
)

func TestDefaultGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if got := DefaultGCPercent([]string{"PATH=/bin"}, 40); got != 40 || debug.SetGCPercent(40) != 40 {
		t.Fatalf("DefaultGCPercent without GOGC: %d", got)
	}
	debug.SetGCPercent(100)
	if got := DefaultGCPercent([]string{"PATH=/bin", "GOGC=200"}, 40); got != -1 || debug.SetGCPercent(100) != 100 {
		t.Fatalf("GOGC set, but DefaultGCPercent changed the goal: %d", got)
	}
}
