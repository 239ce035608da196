// Package browsertest drives a real browser for tests: Debian's chromium,
// headless, through chromedriver's W3C WebDriver protocol (plain HTTP and
// JSON, so no client library). Each Browser is a fresh profile in a
// temporary directory; both processes stop when the test ends.
//
//	b := browsertest.Start(t, browsertest.Options{Width: 375, Height: 800})
//	b.Open(t, "http://127.0.0.1:18080/")
//	text := b.Eval(t, `return document.getElementById("health").innerText`)
//	b.Screenshot(t, "build/screenshots/page.png")
//
// A missing chromium or chromedriver fails the test (`make deps` installs
// both); nothing here skips.
package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
)

// Options configure a browser.
type Options struct {
	Width, Height int  // the window; default 1280 x 1000
	NoJavaScript  bool // the page's scripts do not run
}

// Browser is one chromium session.
type Browser struct {
	base   string // chromedriver's URL
	client *http.Client
}

// Start runs chromedriver and opens a headless chromium session.
func Start(t testing.TB, o Options) *Browser {
	t.Helper()
	chromium := testkit.Need(t, "chromium")
	driver := testkit.Need(t, "chromedriver")
	if o.Width == 0 {
		o.Width, o.Height = 1280, 1000
	}
	port := testkit.FreePort(t)
	logs := &testkit.Buffer{}
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b := &Browser{base: fmt.Sprintf("http://127.0.0.1:%d", port), client: &http.Client{Timeout: 90 * time.Second}}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	testkit.WaitFor(t, 30*time.Second, "chromedriver", func() error {
		select {
		case <-exited:
			return fmt.Errorf("chromedriver exited: %s", logs)
		default:
		}
		return testkit.Dial(fmt.Sprintf("127.0.0.1:%d", port))
	})
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir=" + t.TempDir(),
		fmt.Sprintf("--window-size=%d,%d", o.Width, o.Height),
	}
	if o.NoJavaScript {
		args = append(args, "--blink-settings=scriptEnabled=false")
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": realChromium(chromium), "args": args},
	}}}
	var session struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call("POST", "/session", caps, &session); err != nil {
		t.Fatalf("new chromium session: %v\nchromedriver: %s", err, logs)
	}
	b.base += "/session/" + session.SessionID
	t.Cleanup(func() { b.call("DELETE", "", nil, nil) })
	// The window size is the outer window's; make the viewport as asked.
	w, h, ow, oh := b.dims(t)
	if w != o.Width || h != o.Height {
		b.SetSize(t, o.Width+ow-w, o.Height+oh-h)
	}
	if w, h, _, _ := b.dims(t); w != o.Width || h != o.Height {
		t.Fatalf("viewport %dx%d, want %dx%d", w, h, o.Width, o.Height)
	}
	return b
}

// dims returns the viewport's and the window's size.
func (b *Browser) dims(t testing.TB) (w, h, outerW, outerH int) {
	t.Helper()
	v, _ := b.Eval(t, `return [window.innerWidth, window.innerHeight, window.outerWidth, window.outerHeight]`).([]any)
	n := make([]int, 4)
	for i := range n {
		if i < len(v) {
			f, _ := v[i].(float64)
			n[i] = int(f)
		}
	}
	return n[0], n[1], n[2], n[3]
}

// realChromium is the browser binary behind Debian's /usr/bin/chromium
// wrapper script, which chromedriver cannot pass flags through reliably.
func realChromium(wrapper string) string {
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return wrapper
}

// Open loads url and waits until the page has loaded.
func (b *Browser) Open(t testing.TB, url string) {
	t.Helper()
	if err := b.call("POST", "/url", map[string]any{"url": url}, nil); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// Eval runs script (a function body; arguments in `arguments`) in the page
// and returns what it returns, decoded from JSON.
func (b *Browser) Eval(t testing.TB, script string, args ...any) any {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	var v any
	if err := b.call("POST", "/execute/sync", map[string]any{"script": script, "args": args}, &v); err != nil {
		t.Fatalf("script %.60q: %v", script, err)
	}
	return v
}

// String is Eval for a script that returns a string.
func (b *Browser) String(t testing.TB, script string, args ...any) string {
	t.Helper()
	s, _ := b.Eval(t, script, args...).(string)
	return s
}

// Screenshot saves the viewport as a PNG at path (its directory is made).
func (b *Browser) Screenshot(t testing.TB, path string) {
	t.Helper()
	var data string
	if err := b.call("GET", "/screenshot", nil, &data); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	png, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// FullScreenshot makes the window as tall as the page, so the whole page is
// in the picture, then puts it back.
func (b *Browser) FullScreenshot(t testing.TB, path string) {
	t.Helper()
	_, h, ow, oh := b.dims(t)
	full := 0
	if f, ok := b.Eval(t, `return document.documentElement.scrollHeight`).(float64); ok {
		full = int(f)
	}
	b.SetSize(t, ow, max(full, h)+oh-h)
	b.Screenshot(t, path)
	b.SetSize(t, ow, oh)
}

// SetSize sets the outer window size.
func (b *Browser) SetSize(t testing.TB, width, height int) {
	t.Helper()
	if err := b.call("POST", "/window/rect", map[string]any{"width": width, "height": height}, nil); err != nil {
		t.Fatalf("window size: %v", err)
	}
}

// call sends one WebDriver command and decodes its "value" into out.
func (b *Browser) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		js, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(js)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s %s: %d %.200s", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Message string }
		json.Unmarshal(env.Value, &e)
		return fmt.Errorf("%s %s: %s: %s", method, path, e.Error, strings.SplitN(e.Message, "\n", 2)[0])
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Value, out)
}
