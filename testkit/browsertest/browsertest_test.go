package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>t</title><p id="p">static</p><script>document.getElementById("p").textContent="scripted"</script>`)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Width: 375, Height: 700}, "scripted"},
		{Options{NoJavaScript: true}, "static"},
	} {
		b := Start(t, tc.o)
		b.Open(t, srv.URL)
		if got := b.String(t, `return document.getElementById("p").textContent`); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
		}
		if w := b.Eval(t, `return window.innerWidth`); tc.o.Width != 0 && w != float64(tc.o.Width) {
			t.Errorf("viewport width %v", w)
		}
		png := filepath.Join(t.TempDir(), "x.png")
		b.FullScreenshot(t, png)
		if b, err := os.ReadFile(png); err != nil || len(b) < 100 || string(b[1:4]) != "PNG" {
			t.Errorf("screenshot: %v, %d bytes", err, len(b))
		}
	}
}
