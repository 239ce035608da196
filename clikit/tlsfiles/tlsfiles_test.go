package tlsfiles

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate and its key into dir.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	certs := struct{ CA, ClientCert, ClientKey string }{cert, cert, key}
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o600)
	tc, err := Files{CA: certs.CA, Cert: certs.ClientCert, Key: certs.ClientKey}.Config()
	if err != nil || tc.RootCAs == nil || len(tc.Certificates) != 1 {
		t.Fatalf("good files: %+v %v", tc, err)
	}
	if tc, err := (Files{}).Config(); err != nil || tc.RootCAs != nil || len(tc.Certificates) != 0 {
		t.Fatalf("no files: %+v %v", tc, err)
	}
	for _, c := range []struct {
		f    Files
		role string
		want string
	}{
		{Files{CA: filepath.Join(dir, "none.pem")}, RoleCA, "CA certificate " + filepath.Join(dir, "none.pem") + ": open: no such file"},
		{Files{CA: garbage}, RoleCA, "CA certificate " + garbage + ": no PEM certificate in it"},
		{Files{Cert: garbage, Key: garbage}, RoleCert, "client certificate " + garbage},
		{Files{Cert: certs.ClientCert, Key: certs.CA}, RoleCert, "client certificate"},
	} {
		_, err := c.f.Config()
		var fe *Error
		if !errors.As(err, &fe) || fe.Role != c.role || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want the %s named: %q", c.f, err, c.role, c.want)
		}
	}
	if _, err := (Files{Cert: certs.ClientCert}).Config(); !errors.Is(err, ErrPair) {
		t.Errorf("a certificate without its key: %v", err)
	}
}
