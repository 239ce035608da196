// Package health is the container HEALTHCHECK's side of go-cron's status
// port. An engine runs the HEALTHCHECK command beside PID 1 with the
// container's environment but not its arguments, so a status port moved by
// `-p` (or bound to port 0) is invisible to it. go-cron therefore records
// the address it bound, or "off", in a small file (GOCRON_STATUS_FILE), and
// `go-cron --healthcheck` reads that file and asks /healthz there; without
// the file it falls back to the configured address.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Off is what the file holds when go-cron serves no status port.
const Off = "off"

// Record writes addr (the listener's address, or Off) to path atomically,
// so a concurrent Probe never reads half a line.
func Record(path, addr string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(addr + "\n")
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// Target is the address to probe: the one recorded in statusFile when
// there is one, else configured (the status address as the flags and
// environment of the probing process say). from tells which.
func Target(statusFile, configured string) (addr, from string) {
	if statusFile != "" {
		if b, err := os.ReadFile(statusFile); err == nil {
			if a := strings.TrimSpace(string(b)); a != "" {
				return a, statusFile
			}
		}
	}
	return configured, "configuration"
}

// Dialable turns a listen address into one to connect to: an unspecified
// host (":18080", "0.0.0.0:18080", "[::]:18080") is reached on 127.0.0.1.
func Dialable(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("status address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Probe asks GET /healthz on the status address addr and returns nil on
// 200. An address of Off (or empty) passes: no status port is a supported
// setting, not a sick container.
func Probe(ctx context.Context, client *http.Client, addr string) error {
	if addr == Off || addr == "" {
		return nil
	}
	hostPort, err := Dialable(addr)
	if err != nil {
		return err
	}
	url := "http://" + hostPort + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) //nolint:errcheck // the status code is the answer
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
