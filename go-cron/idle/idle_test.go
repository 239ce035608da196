package idle

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// Settle drops the executable's mappings (clikit/exemem, tested there) and
// sets go-cron's heap goal.
func TestSettle(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	r, err := Settle(nil)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && r.Released <= 0 {
		t.Fatalf("released %d bytes of the executable's mappings", r.Released)
	}
	if r.GCPercent != gcPercent || debug.SetGCPercent(gcPercent) != gcPercent {
		t.Fatalf("GC percent: %+v", r)
	}
}

func TestSettleLeavesGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	r, err := Settle([]string{"PATH=/bin", "GOGC=200"})
	if err != nil {
		t.Fatal(err)
	}
	if r.GCPercent != -1 || debug.SetGCPercent(100) != 100 {
		t.Fatalf("GOGC set, but Settle changed the GC percent: %+v", r)
	}
}
