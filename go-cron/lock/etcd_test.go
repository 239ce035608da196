package lock

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"cronbox/testkit"
)

// etcdServer is one embedded etcd member that a test can stop and start
// again on the same address and data.
type etcdServer struct {
	t        testing.TB
	dir      string
	endpoint string // scheme://127.0.0.1:port
	tls      *transport.TLSInfo
	e        *embed.Etcd
}

func startEtcd(t testing.TB, tlsInfo *transport.TLSInfo) *etcdServer {
	t.Helper()
	s := &etcdServer{t: t, dir: t.TempDir(), tls: tlsInfo}
	scheme := "http"
	if tlsInfo != nil {
		scheme = "https"
	}
	s.endpoint = fmt.Sprintf("%s://127.0.0.1:%d", scheme, testkit.FreePort(t))
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *etcdServer) start() {
	s.t.Helper()
	if s.e != nil {
		s.t.Fatal("etcd already running")
	}
	cfg := embed.NewConfig()
	cfg.Dir = s.dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.BcryptCost = 4 // bcrypt's minimum: the default costs ~1s per login under -race
	cu, _ := url.Parse(s.endpoint)
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(s.t)))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.Name + "=" + pu.String()
	if _, err := os.Stat(filepath.Join(s.dir, "member")); err == nil {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	if s.tls != nil {
		cfg.ClientTLSInfo = *s.tls
	}
	var e *embed.Etcd
	err := testkit.Poll(10*time.Second, func() error { // the port may be taken again for a moment
		var err error
		e, err = embed.StartEtcd(cfg)
		return err
	})
	if err != nil {
		s.t.Fatalf("start embedded etcd on %s: %v", s.endpoint, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		s.t.Fatal("embedded etcd not ready within 20s")
	}
	s.e = e
}

func (s *etcdServer) stop() {
	if s.e != nil {
		s.e.Close()
		<-s.e.Server.StopNotify()
		s.e = nil
	}
}

// testCerts writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, and returns the server's TLS info and the client's files.
func testCerts(t *testing.T) (server transport.TLSInfo, caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cronbox test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile = write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(name, cn string, serial int64, usage ...x509.ExtKeyUsage) (string, string) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"cronbox test"}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(k)
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "EC PRIVATE KEY", kb)
	}
	// etcd's JSON gateway dials etcd's own gRPC with the server's
	// certificate, so with client-cert-auth it must be a client one too (as
	// etcd's TLS guide makes them).
	sc, sk := leaf("server", "server", 2, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	// No CommonName: with auth enabled etcd refuses CN certificates on the
	// JSON API (it would otherwise take the CN for the user).
	certFile, keyFile = leaf("client", "", 3, x509.ExtKeyUsageClientAuth)
	server = transport.TLSInfo{CertFile: sc, KeyFile: sk, TrustedCAFile: caFile, ClientCertAuth: true}
	return server, caFile, certFile, keyFile
}
