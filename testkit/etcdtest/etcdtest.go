// Package etcdtest starts real etcd servers for tests: an embedded etcd
// v3.7.3 in the test process (fast: about 0.2 s), and a cluster of Debian's
// /usr/bin/etcd (3.4) processes on loopback for end-to-end, failure and
// cross-version tests. Both clean up when the test ends.
//
//	e := etcdtest.Embed(t, etcdtest.Options{})          // one member, in-process
//	cli := e.Client(t)
//	etcdtest.Embed(t, etcdtest.Options{Dir: restored, Name: "r1", PeerURL: peer}) // serve a restored data dir
//	etcdtest.Embed(t, etcdtest.Options{TLS: etcdtest.NewCerts(t)})               // https, client certificates required
//
//	c := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 3})
//	c.Endpoints()  // client URLs, one per member
//	c.Kill(t, 0)   // SIGKILL member 0 (a crash, not a shutdown)
//	c.Restart(t, 0) // start it again on its data dir and wait until healthy
//
// A missing etcd binary fails the test (`make deps` installs it); nothing
// here skips.
package etcdtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"cronbox/testkit"
)

// Options configure an embedded member. The zero value is a fresh
// single-member cluster in a temporary directory.
type Options struct {
	// Dir is the data dir. "" means a new temporary one; an existing dir
	// (such as one `etcd-backup restore` wrote) is started as it is.
	Dir string
	// Name is the member name; a restored data dir needs the name it was
	// restored with. Default "default".
	Name string
	// PeerURL is the member's peer URL; a restored data dir needs the URL
	// it was restored with. Default: a free loopback port.
	PeerURL string
	// QuotaBackendBytes raises (or lowers) the backend quota.
	QuotaBackendBytes int64
	// TLS serves clients over https with these certificates (see
	// NewCerts) and requires a client certificate signed by Certs.CA.
	TLS *Certs
}

// Embedded is an in-process etcd server.
type Embedded struct {
	Endpoint string // http://127.0.0.1:PORT
	Dir      string
	Name     string
	PeerURL  string

	e        *embed.Etcd
	tls      *Certs
	stopOnce sync.Once
}

// Embed starts an embedded etcd and waits until it serves clients.
func Embed(t testing.TB, o Options) *Embedded {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Name == "" {
		o.Name = "default"
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		peer := o.PeerURL
		if peer == "" {
			peer = fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
		}
		cfg := embed.NewConfig()
		cfg.Dir = o.Dir
		cfg.Name = o.Name
		cfg.LogLevel = "fatal" // its Close logs "server closed" errors by the dozen
		cfg.Logger = "zap"
		cfg.LogOutputs = []string{"stderr"}
		pu, _ := url.Parse(peer)
		scheme := "http"
		if o.TLS != nil {
			scheme = "https"
			cfg.ClientTLSInfo = transport.TLSInfo{CertFile: o.TLS.ServerCert, KeyFile: o.TLS.ServerKey, TrustedCAFile: o.TLS.CA, ClientCertAuth: true}
		}
		cu, _ := url.Parse(scheme + "://127.0.0.1:0")
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
		cfg.InitialCluster = o.Name + "=" + peer
		cfg.InitialClusterToken = "etcdtest"
		cfg.BcryptCost = 4 // bcrypt's minimum: auth tests stay fast under -race
		if o.QuotaBackendBytes > 0 {
			cfg.QuotaBackendBytes = o.QuotaBackendBytes
		}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			if o.PeerURL == "" && strings.Contains(err.Error(), "address already in use") {
				continue
			}
			t.Fatalf("embedded etcd: %v", err)
		}
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			e.Close()
			t.Fatalf("embedded etcd: %v", err)
		case <-time.After(30 * time.Second):
			e.Close()
			t.Fatal("embedded etcd: not ready after 30 s")
		}
		m := &Embedded{Endpoint: scheme + "://" + e.Clients[0].Addr().String(), Dir: o.Dir, Name: o.Name, PeerURL: peer, e: e, tls: o.TLS}
		t.Cleanup(m.Stop)
		return m
	}
	t.Fatalf("embedded etcd: %v", lastErr)
	return nil
}

// Stop shuts the server down; calling it again does nothing (embed's own
// Close panics the second time).
func (m *Embedded) Stop() {
	m.stopOnce.Do(func() { m.e.Close() })
}

// Client returns a client of this member, closed when the test ends.
func (m *Embedded) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	if m.tls == nil {
		return NewClient(t, m.Endpoint)
	}
	tc, err := transport.TLSInfo{CertFile: m.tls.ClientCert, KeyFile: m.tls.ClientKey, TrustedCAFile: m.tls.CA}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.Endpoint}, TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client %s: %v", m.Endpoint, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// NewClient returns a client of endpoints, closed when the test ends.
func NewClient(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client %v: %v", endpoints, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// ClusterOptions configure a process cluster.
type ClusterOptions struct {
	Size      int      // members; default 3
	Binary    string   // default: etcd from PATH (Debian's /usr/bin/etcd)
	ExtraArgs []string // added to every member's command line
}

// Cluster is a cluster of etcd processes on loopback.
type Cluster struct {
	Members []*Member
	bin     string
	extra   []string
	initial string
	token   string
}

// Member is one etcd process of a Cluster.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	Dir       string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *testkit.Buffer
}

// StartCluster starts Size etcd processes with fresh data dirs on free
// loopback ports and waits until every member is healthy. They are killed
// when the test ends.
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Size <= 0 {
		o.Size = 3
	}
	bin := o.Binary
	if bin == "" {
		bin = testkit.Need(t, "etcd")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c := &Cluster{bin: bin, extra: o.ExtraArgs, token: fmt.Sprintf("etcdtest-%d", time.Now().UnixNano())}
		var initial []string
		for i := 0; i < o.Size; i++ {
			m := &Member{
				Name:      fmt.Sprintf("m%d", i),
				ClientURL: fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t)),
				PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t)),
				Dir:       t.TempDir(),
			}
			c.Members = append(c.Members, m)
			initial = append(initial, m.Name+"="+m.PeerURL)
		}
		c.initial = strings.Join(initial, ",")
		for _, m := range c.Members {
			if err := c.start(m); err != nil {
				t.Fatalf("start etcd %s: %v", m.Name, err)
			}
		}
		t.Cleanup(func() {
			for i := range c.Members {
				c.kill(i)
			}
		})
		lastErr = c.waitHealthy(60 * time.Second)
		if lastErr == nil {
			return c
		}
		for i := range c.Members {
			c.kill(i)
		}
	}
	t.Fatalf("etcd cluster did not become healthy: %v", lastErr)
	return nil
}

func (c *Cluster) start(m *Member) error {
	args := []string{
		"--name", m.Name,
		"--data-dir", m.Dir,
		"--listen-client-urls", m.ClientURL,
		"--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", c.initial,
		"--initial-cluster-token", c.token,
		"--initial-cluster-state", "new",
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--log-level", "warn",
		"--logger", "zap",
	}
	args = append(args, c.extra...)
	cmd := exec.Command(c.bin, args...)
	// etcd reads ETCD_* variables as flags: keep the test's own out.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") && !strings.HasPrefix(kv, "ETCDCTL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	logs := &testkit.Buffer{Limit: 1 << 20}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	m.mu.Lock()
	m.cmd, m.exited, m.logs = cmd, exited, logs
	m.mu.Unlock()
	return nil
}

func (c *Cluster) kill(i int) {
	m := c.Members[i]
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Endpoints are the members' client URLs, in member order.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.ClientURL)
	}
	return eps
}

// Client returns a client of every member, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return NewClient(t, c.Endpoints()...)
}

// Kill crashes member i (SIGKILL) and waits until the process is gone.
func (c *Cluster) Kill(t testing.TB, i int) {
	t.Helper()
	c.kill(i)
}

// Running reports whether member i's process is alive.
func (c *Cluster) Running(i int) bool {
	m := c.Members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// Restart starts a killed member i again on its data dir and waits until
// all running members are healthy.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	c.kill(i)
	if err := c.start(c.Members[i]); err != nil {
		t.Fatalf("restart etcd %s: %v", c.Members[i].Name, err)
	}
	c.WaitHealthy(t)
}

// WaitHealthy waits until every running member answers a status request
// and has a leader.
func (c *Cluster) WaitHealthy(t testing.TB) {
	t.Helper()
	if err := c.waitHealthy(60 * time.Second); err != nil {
		t.Fatalf("etcd cluster: %v", err)
	}
}

func (c *Cluster) waitHealthy(timeout time.Duration) error {
	return testkit.Poll(timeout, func() error {
		for i, m := range c.Members {
			if !c.Running(i) {
				continue
			}
			if err := memberHealthy(m.ClientURL); err != nil {
				return fmt.Errorf("%s (%s): %w\n%s", m.Name, m.ClientURL, err, m.Logs())
			}
		}
		return nil
	})
}

func memberHealthy(endpoint string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := cli.Status(ctx, endpoint)
	if err != nil {
		return err
	}
	if st.Leader == 0 {
		return fmt.Errorf("no leader yet")
	}
	return nil
}

// Logs returns what member m printed (the first MiB), to explain a failure.
func (m *Member) Logs() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.logs == nil {
		return ""
	}
	return m.logs.String()
}
