package redis

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pipeline-node test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// With TLS on the client port, a client that trusts the certificate is
// served, and one speaking plaintext is not.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	c := newTestCluster(t, 1, Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	c.waitLeaderKnown()
	secure := c.client(0, func(o *goredis.Options) { o.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12} })
	if err := secure.Set(t.Context(), "k", "over tls", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := secure.Get(t.Context(), "k").Result(); err != nil || v != "over tls" {
		t.Fatalf("GET over TLS: %q, %v", v, err)
	}
	plain := c.client(0, func(o *goredis.Options) { o.ReadTimeout, o.MaxRetries = 2*time.Second, -1 })
	if err := plain.Ping(t.Context()).Err(); err == nil {
		t.Fatal("a plaintext client was served on a TLS port")
	}
}
