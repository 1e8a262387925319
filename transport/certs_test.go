package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Test certificates, made fresh by each test: no key material in the repo,
// and validity windows relative to the test's own clock.

type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// newTestCA makes a self-signed ECDSA P-256 CA valid from an hour ago for a day.
func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key := newTestKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newTestSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	return signCA(t, tmpl, tmpl, key, key)
}

// intermediate makes a CA signed by ca, with ca's validity window. A cert
// file for a node it issues is the node's certificate followed by the
// intermediate's certPEM.
func (ca *testCA) intermediate(t testing.TB, name string) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          newTestSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             ca.cert.NotBefore,
		NotAfter:              ca.cert.NotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	return signCA(t, tmpl, ca.cert, newTestKey(t), ca.key)
}

func signCA(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *testCA {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("create CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse CA certificate: %v", err)
	}
	return &testCA{cert: cert, key: key, certPEM: pemBlock("CERTIFICATE", der)}
}

type certOpts struct {
	nodeURI             string    // "" means raftpipe://node/<node>; "-" means no URI SAN at all
	notBefore, notAfter time.Time // zero means now-1h, now+24h
	extraURIs           []string  // further URI SANs, after the node URI
	// extKeyUsage nil means ServerAuth and ClientAuth; an empty non-nil
	// slice means a certificate without the extension.
	extKeyUsage []x509.ExtKeyUsage
}

// issue makes a node certificate for node, usable as server and client, and
// its private key, both PEM.
func (ca *testCA) issue(t testing.TB, node uint64, o certOpts) (certPEM, keyPEM []byte) {
	t.Helper()
	now := time.Now()
	if o.notBefore.IsZero() {
		o.notBefore = now.Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = now.Add(24 * time.Hour)
	}
	var rawURIs []string
	switch o.nodeURI {
	case "":
		rawURIs = append(rawURIs, fmt.Sprintf("raftpipe://node/%d", node))
	case "-":
	default:
		rawURIs = append(rawURIs, o.nodeURI)
	}
	rawURIs = append(rawURIs, o.extraURIs...)
	var uris []*url.URL
	for _, s := range rawURIs {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("test URI %q: %v", s, err)
		}
		uris = append(uris, u)
	}
	if o.extKeyUsage == nil {
		o.extKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	key := newTestKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: newTestSerial(t),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("node-%d", node)},
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  o.extKeyUsage,
		URIs:         uris,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("issue certificate for node %d: %v", node, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER)
}

// writeTLSFiles writes ca.pem, node-<id>.pem and node-<id>-key.pem under dir and returns their TLSFiles.
func writeTLSFiles(t testing.TB, dir string, ca *testCA, node uint64, o certOpts) TLSFiles {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, node, o)
	f := TLSFiles{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, fmt.Sprintf("node-%d.pem", node)),
		KeyFile:  filepath.Join(dir, fmt.Sprintf("node-%d-key.pem", node)),
	}
	writeTestFile(t, f.CAFile, ca.certPEM)
	writeTestFile(t, f.CertFile, certPEM)
	writeTestFile(t, f.KeyFile, keyPEM)
	return f
}

func writeTestFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newTestKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return key
}

func newTestSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
