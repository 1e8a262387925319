package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoadTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "cluster CA")
	f := writeTLSFiles(t, t.TempDir(), ca, 7, certOpts{})
	m, err := loadTLS(f, 7)
	if err != nil {
		t.Fatalf("loadTLS: %v", err)
	}
	if m.roots == nil || m.now == nil || m.cert.Leaf == nil || m.cert.PrivateKey == nil {
		t.Fatalf("incomplete material: %+v", m)
	}
	if id, err := NodeIDFromCert(m.cert.Leaf); err != nil || id != 7 {
		t.Fatalf("leaf names node %d, %v; want 7", id, err)
	}
}

func TestLoadTLSIntermediate(t *testing.T) {
	t.Parallel()
	root := newTestCA(t, "root CA")
	inter := root.intermediate(t, "intermediate CA")
	dir := t.TempDir()
	f := writeTLSFiles(t, dir, inter, 4, certOpts{})
	// The CA file has only the root; the cert file carries the intermediate.
	writeTestFile(t, f.CAFile, root.certPEM)
	certPEM, err := os.ReadFile(f.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, f.CertFile, append(certPEM, inter.certPEM...))
	m, err := loadTLS(f, 4)
	if err != nil {
		t.Fatalf("loadTLS: %v", err)
	}
	if len(m.cert.Certificate) != 2 {
		t.Fatalf("chain has %d certificates, want 2", len(m.cert.Certificate))
	}
}

func TestLoadTLSErrors(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "cluster CA")
	otherCA := newTestCA(t, "other CA")
	now := time.Now()

	tests := []struct {
		name string
		// setup writes the files for node 1 and returns them and the
		// path the error must name.
		setup func(t *testing.T, dir string) (TLSFiles, string)
		want  string // a further part of the message
	}{
		{"missing CA file", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{})
			f.CAFile = filepath.Join(dir, "nope.pem")
			return f, f.CAFile
		}, "no such file"},
		{"missing cert file", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{})
			f.CertFile = filepath.Join(dir, "nope.pem")
			return f, f.CertFile
		}, "no such file"},
		{"missing key file", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{})
			f.KeyFile = filepath.Join(dir, "nope.pem")
			return f, f.KeyFile
		}, "no such file"},
		{"CA file not PEM", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{})
			writeTestFile(t, f.CAFile, []byte("not a certificate\n"))
			return f, f.CAFile
		}, "no PEM certificate"},
		{"CA file holds a key", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{})
			f.CAFile = f.KeyFile
			return f, f.CAFile
		}, "no PEM certificate"},
		{"CA file corrupt certificate", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{})
			writeTestFile(t, f.CAFile, pemBlock("CERTIFICATE", []byte("garbage")))
			return f, f.CAFile
		}, "certificate 1"},
		{"cert file not PEM", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{})
			writeTestFile(t, f.CertFile, []byte("garbage"))
			return f, f.CertFile
		}, "failed to find any PEM data"},
		{"key of another certificate", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{})
			_, otherKey := ca.issue(t, 1, certOpts{})
			writeTestFile(t, f.KeyFile, otherKey)
			return f, f.KeyFile
		}, "does not match"},
		{"certificate of another node", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 2, certOpts{})
			return f, f.CertFile
		}, "names node 2, but this is node 1"},
		{"certificate names no node", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{nodeURI: "-"})
			return f, f.CertFile
		}, "names no node"},
		{"certificate names several nodes", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{extraURIs: []string{"raftpipe://node/2"}})
			return f, f.CertFile
		}, "several nodes"},
		{"certificate expired", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)})
			return f, f.CertFile
		}, "expired or not yet valid"},
		{"certificate not yet valid", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{notBefore: now.Add(time.Hour)})
			return f, f.CertFile
		}, "expired or not yet valid"},
		{"certificate of another CA", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, otherCA, 1, certOpts{})
			writeTestFile(t, f.CAFile, ca.certPEM)
			return f, f.CertFile
		}, "unknown authority"},
		{"certificate not for client auth", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return f, f.CertFile
		}, "key usage"},
		{"no CA file named", func(t *testing.T, dir string) (TLSFiles, string) {
			f := writeTLSFiles(t, dir, ca, 1, certOpts{})
			f.CAFile = ""
			return f, "CA file"
		}, "needs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, path := tt.setup(t, t.TempDir())
			m, err := loadTLS(f, 1)
			if err == nil {
				t.Fatalf("loadTLS succeeded: %+v", m)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %q does not wrap ErrInvalidConfig", err)
			}
			if k := KindOf(err); k != KindOther {
				t.Errorf("config error %q also wraps the connection sentinel of kind %v", err, k)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestNodeIDFromCert(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "cluster CA")
	tests := []struct {
		name string
		o    certOpts
		want uint64 // 0: an error saying wantErr
		// wantErr is part of the error message.
		wantErr string
	}{
		{"good", certOpts{nodeURI: "raftpipe://node/7"}, 7, ""},
		{"largest ID", certOpts{nodeURI: "raftpipe://node/18446744073709551615"}, 1<<64 - 1, ""},
		{"other schemes ignored", certOpts{nodeURI: "raftpipe://node/7", extraURIs: []string{"spiffe://cluster/node/3", "https://node/3"}}, 7, ""},
		{"other scheme first", certOpts{nodeURI: "spiffe://cluster/node/3", extraURIs: []string{"raftpipe://node/7"}}, 7, ""},
		{"scheme case", certOpts{nodeURI: "RaftPipe://node/7"}, 7, ""},
		{"no URI SAN", certOpts{nodeURI: "-"}, 0, "names no node"},
		{"only other schemes", certOpts{nodeURI: "spiffe://cluster/node/7"}, 0, "names no node"},
		{"two nodes", certOpts{nodeURI: "raftpipe://node/7", extraURIs: []string{"raftpipe://node/8"}}, 0, "several nodes"},
		{"same node twice", certOpts{nodeURI: "raftpipe://node/7", extraURIs: []string{"raftpipe://node/7"}}, 0, "several nodes"},
		{"good and malformed", certOpts{nodeURI: "raftpipe://node/7", extraURIs: []string{"raftpipe://node/x"}}, 0, `malformed node URI "raftpipe://node/x"`},
	}
	for _, bad := range []string{
		"raftpipe://node/abc",
		"raftpipe://node/0",
		"raftpipe://node/00",
		"raftpipe://node/01",
		"raftpipe://node/+1",
		"raftpipe://node/-1",
		"raftpipe://node/1.0",
		"raftpipe://node/",
		"raftpipe://node",
		"raftpipe://node/18446744073709551616",
		"raftpipe://node/7/8",
		"raftpipe://node/7?x=1",
		"raftpipe://node/7#x",
		"raftpipe://node/%37",
		"raftpipe://node:1/7",
		"raftpipe://admin@node/7",
		"raftpipe://other/7",
		"raftpipe://NODE/7",
		"raftpipe:node/7",
		"raftpipe:///7",
	} {
		tests = append(tests, struct {
			name    string
			o       certOpts
			want    uint64
			wantErr string
		}{bad, certOpts{nodeURI: bad}, 0, "malformed node URI"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			certPEM, _ := ca.issue(t, 7, tt.o)
			c := parseTestCert(t, certPEM)
			id, err := NodeIDFromCert(c)
			if tt.want != 0 {
				if err != nil || id != tt.want {
					t.Fatalf("NodeIDFromCert(URIs %v) = %d, %v; want %d", c.URIs, id, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("NodeIDFromCert(URIs %v) = %d, want an error", c.URIs, id)
			}
			if KindOf(err) != KindCertNodeMismatch {
				t.Errorf("error %q is of kind %v, want %v", err, KindOf(err), KindCertNodeMismatch)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyPeerChain(t *testing.T) {
	t.Parallel()
	root := newTestCA(t, "root CA")
	inter := root.intermediate(t, "intermediate CA")
	otherCA := newTestCA(t, "other CA")
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	now := time.Now()
	issue := func(ca *testCA, o certOpts) *x509.Certificate {
		certPEM, _ := ca.issue(t, 5, o)
		return parseTestCert(t, certPEM)
	}
	leaf := issue(root, certOpts{})
	interLeaf := issue(inter, certOpts{})
	expired := issue(root, certOpts{notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-24 * time.Hour)})

	tests := []struct {
		name    string
		certs   []*x509.Certificate
		now     time.Time
		usage   x509.ExtKeyUsage
		want    error // nil: verifies
		wantMsg string
	}{
		{"good server", []*x509.Certificate{leaf}, now, x509.ExtKeyUsageServerAuth, nil, ""},
		{"good client", []*x509.Certificate{leaf}, now, x509.ExtKeyUsageClientAuth, nil, ""},
		{"via intermediate", []*x509.Certificate{interLeaf, inter.cert}, now, x509.ExtKeyUsageClientAuth, nil, ""},
		{"no EKU", []*x509.Certificate{issue(root, certOpts{extKeyUsage: []x509.ExtKeyUsage{}})}, now, x509.ExtKeyUsageClientAuth, nil, ""},
		{"any EKU", []*x509.Certificate{issue(root, certOpts{extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})}, now, x509.ExtKeyUsageServerAuth, nil, ""},
		{"no certificate", nil, now, x509.ExtKeyUsageClientAuth, ErrTLSHandshake, "no certificate"},
		{"missing intermediate", []*x509.Certificate{interLeaf}, now, x509.ExtKeyUsageClientAuth, ErrUnknownCA, `"CN=node-5"`},
		{"other CA", []*x509.Certificate{issue(otherCA, certOpts{})}, now, x509.ExtKeyUsageClientAuth, ErrUnknownCA, "unknown authority"},
		{"expired", []*x509.Certificate{expired}, now, x509.ExtKeyUsageClientAuth, ErrCertExpired, expired.NotAfter.UTC().Format(time.RFC3339)},
		{"not yet valid", []*x509.Certificate{leaf}, leaf.NotBefore.Add(-time.Minute), x509.ExtKeyUsageClientAuth, ErrCertExpired, leaf.NotBefore.UTC().Format(time.RFC3339)},
		{"CA expired", []*x509.Certificate{issue(root, certOpts{notAfter: now.Add(48 * time.Hour)})}, now.Add(36 * time.Hour), x509.ExtKeyUsageClientAuth, ErrCertExpired, `in the chain of certificate "CN=node-5"`},
		{"chain expired", []*x509.Certificate{issue(inter, certOpts{notAfter: now.Add(48 * time.Hour)}), inter.cert}, now.Add(36 * time.Hour), x509.ExtKeyUsageClientAuth, ErrCertExpired, `certificate "CN=intermediate CA"`},
		{"wrong usage", []*x509.Certificate{issue(root, certOpts{extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})}, now, x509.ExtKeyUsageClientAuth, ErrTLSHandshake, "key usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := verifyPeerChain(roots, tt.certs, tt.now, tt.usage)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("verifyPeerChain: %v", err)
				}
				return
			}
			if KindOf(err) != KindOf(tt.want) {
				t.Fatalf("error %v is of kind %v, want %v", err, KindOf(err), KindOf(tt.want))
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}

	t.Run("no roots", func(t *testing.T) {
		t.Parallel()
		if err := verifyPeerChain(nil, []*x509.Certificate{leaf}, now, x509.ExtKeyUsageClientAuth); !errors.Is(err, ErrTLSHandshake) {
			t.Fatalf("without roots: %v, want ErrTLSHandshake", err)
		}
	})
}

func TestPeerNodeIDNeedsCompleteHandshake(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "cluster CA")
	certPEM, _ := ca.issue(t, 3, certOpts{})
	c := parseTestCert(t, certPEM)
	if _, err := peerNodeID(tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}); !errors.Is(err, ErrTLSHandshake) {
		t.Errorf("before the handshake completed: %v, want ErrTLSHandshake", err)
	}
	if _, err := peerNodeID(tls.ConnectionState{HandshakeComplete: true}); !errors.Is(err, ErrTLSHandshake) {
		t.Errorf("without a certificate: %v, want ErrTLSHandshake", err)
	}
	if id, err := peerNodeID(tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{c}}); err != nil || id != 3 {
		t.Errorf("peerNodeID = %d, %v; want 3", id, err)
	}
}

func TestClassifyTLSError(t *testing.T) {
	t.Parallel()
	if classifyTLSError(nil) != nil {
		t.Error("nil error classified as an error")
	}
	ours := fmt.Errorf("%w: details", ErrCertExpired)
	if got := classifyTLSError(ours); got != ours {
		t.Errorf("classifyTLSError(%v) = %v, want it unchanged", ours, got)
	}
	other := errors.New("tls: some failure")
	got := classifyTLSError(other)
	if KindOf(got) != KindTLSHandshake || !errors.Is(got, other) || !strings.Contains(got.Error(), other.Error()) {
		t.Errorf("classifyTLSError(%v) = %v, want ErrTLSHandshake keeping the original", other, got)
	}
	got = classifyTLSError(context.DeadlineExceeded)
	if KindOf(got) != KindTLSHandshake || !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("classifyTLSError(deadline) = %v, want ErrTLSHandshake wrapping the deadline", got)
	}
}

type tlsHandshakeResult struct {
	serverErr, clientErr error // classified
	server, client       tls.ConnectionState
}

// tlsHandshake runs a TLS handshake over loopback TCP and, like the hello
// exchange that follows it in the transport, a one-byte reply from the
// server: in TLS 1.3 the client's handshake completes before the server has
// checked the client's certificate, so the client learns of a rejection only
// when it reads.
//
// Not over net.Pipe: its writes block until the other end reads, and a client
// rejecting the server's certificate writes its alert while the server is
// still writing the rest of its flight, so both would wait for ever.
func tlsHandshake(t *testing.T, serverCfg, clientCfg *tls.Config) tlsHandshakeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	sraw, craw := tcpConnPair(t)
	// HandshakeContext honours ctx; the deadline covers the reply.
	if err := sraw.SetDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	if err := craw.SetDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	srv := tls.Server(sraw, serverCfg)
	cli := tls.Client(craw, clientCfg)

	var r tlsHandshakeResult
	var wg sync.WaitGroup
	wg.Go(func() {
		defer sraw.Close()
		err := srv.HandshakeContext(ctx)
		if err == nil {
			_, err = srv.Write([]byte{1})
		}
		r.serverErr = classifyTLSError(err)
		r.server = srv.ConnectionState()
	})
	wg.Go(func() {
		defer craw.Close()
		err := cli.HandshakeContext(ctx)
		if err == nil {
			_, err = io.ReadFull(cli, make([]byte, 1))
		}
		r.clientErr = classifyTLSError(err)
		r.client = cli.ConnectionState()
	})
	wg.Wait()
	return r
}

func tcpConnPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		var err error
		server, err = ln.Accept()
		accepted <- err
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}

// testMaterial builds a node's TLS material without loadTLS's checks, so that
// tests can give nodes bad certificates: it trusts trust and holds a
// certificate for node issued by issuer.
func testMaterial(t *testing.T, trust, issuer *testCA, node uint64, o certOpts) *tlsMaterial {
	t.Helper()
	certPEM, keyPEM := issuer.issue(t, node, o)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(trust.cert)
	return &tlsMaterial{roots: roots, cert: cert, now: time.Now}
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	t.Run("good pair", func(t *testing.T) {
		t.Parallel()
		ca := newTestCA(t, "cluster CA")
		dir := t.TempDir()
		server, err := loadTLS(writeTLSFiles(t, dir, ca, 1, certOpts{}), 1)
		if err != nil {
			t.Fatal(err)
		}
		client, err := loadTLS(writeTLSFiles(t, dir, ca, 2, certOpts{}), 2)
		if err != nil {
			t.Fatal(err)
		}
		r := tlsHandshake(t, server.serverConfig(), client.clientConfig(1))
		if r.serverErr != nil || r.clientErr != nil {
			t.Fatalf("server: %v; client: %v", r.serverErr, r.clientErr)
		}
		if r.server.Version != tls.VersionTLS13 {
			t.Errorf("version %x, want TLS 1.3", r.server.Version)
		}
		if id, err := peerNodeID(r.server); err != nil || id != 2 {
			t.Errorf("server sees node %d, %v; want 2", id, err)
		}
		if id, err := peerNodeID(r.client); err != nil || id != 1 {
			t.Errorf("client sees node %d, %v; want 1", id, err)
		}
	})

	t.Run("intermediates", func(t *testing.T) {
		t.Parallel()
		root := newTestCA(t, "root CA")
		inter := root.intermediate(t, "intermediate CA")
		server := testMaterial(t, root, inter, 1, certOpts{})
		client := testMaterial(t, root, inter, 2, certOpts{})
		// Each sends its intermediate after its leaf; the peers trust only the root.
		server.cert.Certificate = append(server.cert.Certificate, inter.cert.Raw)
		client.cert.Certificate = append(client.cert.Certificate, inter.cert.Raw)
		r := tlsHandshake(t, server.serverConfig(), client.clientConfig(1))
		if r.serverErr != nil || r.clientErr != nil {
			t.Fatalf("server: %v; client: %v", r.serverErr, r.clientErr)
		}
		if id, err := peerNodeID(r.server); err != nil || id != 2 {
			t.Errorf("server sees node %d, %v; want 2", id, err)
		}
	})

	now := time.Now()
	tests := []struct {
		name string
		// setup returns the material of server node 1 and of client
		// node 2 dialing node 1.
		setup                func(t *testing.T) (server, client *tlsMaterial)
		serverErr, clientErr error // nil: must succeed
	}{
		{"client of unknown CA", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca, other := newTestCA(t, "cluster CA"), newTestCA(t, "other CA")
			return testMaterial(t, ca, ca, 1, certOpts{}), testMaterial(t, ca, other, 2, certOpts{})
		}, ErrUnknownCA, ErrTLSHandshake},
		{"client expired", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca := newTestCA(t, "cluster CA")
			return testMaterial(t, ca, ca, 1, certOpts{}),
				testMaterial(t, ca, ca, 2, certOpts{notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Minute)})
		}, ErrCertExpired, ErrTLSHandshake},
		{"client not yet valid", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca := newTestCA(t, "cluster CA")
			return testMaterial(t, ca, ca, 1, certOpts{}), testMaterial(t, ca, ca, 2, certOpts{notBefore: now.Add(time.Hour)})
		}, ErrCertExpired, ErrTLSHandshake},
		{"client expired by the server's clock", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca := newTestCA(t, "cluster CA")
			server, client := testMaterial(t, ca, ca, 1, certOpts{}), testMaterial(t, ca, ca, 2, certOpts{})
			server.now = func() time.Time { return now.Add(25 * time.Hour) }
			return server, client
		}, ErrCertExpired, ErrTLSHandshake},
		{"client without certificate", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca := newTestCA(t, "cluster CA")
			client := testMaterial(t, ca, ca, 2, certOpts{})
			client.cert = tls.Certificate{}
			return testMaterial(t, ca, ca, 1, certOpts{}), client
		}, ErrTLSHandshake, ErrTLSHandshake},
		{"client not for client auth", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca := newTestCA(t, "cluster CA")
			return testMaterial(t, ca, ca, 1, certOpts{}),
				testMaterial(t, ca, ca, 2, certOpts{extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		}, ErrTLSHandshake, ErrTLSHandshake},
		{"client naming no node", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			// Passes the handshake: the server checks the node ID against
			// the client's claim only after it, with peerNodeID.
			ca := newTestCA(t, "cluster CA")
			return testMaterial(t, ca, ca, 1, certOpts{}), testMaterial(t, ca, ca, 2, certOpts{nodeURI: "-"})
		}, nil, nil},
		{"server names another node", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca := newTestCA(t, "cluster CA")
			return testMaterial(t, ca, ca, 3, certOpts{}), testMaterial(t, ca, ca, 2, certOpts{})
		}, ErrTLSHandshake, ErrCertNodeMismatch},
		{"server names no node", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca := newTestCA(t, "cluster CA")
			return testMaterial(t, ca, ca, 1, certOpts{nodeURI: "-"}), testMaterial(t, ca, ca, 2, certOpts{})
		}, ErrTLSHandshake, ErrCertNodeMismatch},
		{"server of unknown CA", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca, other := newTestCA(t, "cluster CA"), newTestCA(t, "other CA")
			return testMaterial(t, ca, other, 1, certOpts{}), testMaterial(t, ca, ca, 2, certOpts{})
		}, ErrTLSHandshake, ErrUnknownCA},
		{"server expired by the client's clock", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca := newTestCA(t, "cluster CA")
			server, client := testMaterial(t, ca, ca, 1, certOpts{}), testMaterial(t, ca, ca, 2, certOpts{})
			client.now = func() time.Time { return now.Add(25 * time.Hour) }
			return server, client
		}, ErrTLSHandshake, ErrCertExpired},
		{"server not for server auth", func(t *testing.T) (*tlsMaterial, *tlsMaterial) {
			ca := newTestCA(t, "cluster CA")
			return testMaterial(t, ca, ca, 1, certOpts{extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}),
				testMaterial(t, ca, ca, 2, certOpts{})
		}, ErrTLSHandshake, ErrTLSHandshake},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server, client := tt.setup(t)
			r := tlsHandshake(t, server.serverConfig(), client.clientConfig(1))
			check := func(side string, got, want error) {
				t.Helper()
				if want == nil {
					if got != nil {
						t.Errorf("%s: %v, want success", side, got)
					}
					return
				}
				// KindOf, not errors.Is: the error must wrap the
				// specific sentinel and no other.
				if KindOf(got) != KindOf(want) || !errors.Is(got, want) {
					t.Errorf("%s: %v (kind %v), want kind %v", side, got, KindOf(got), KindOf(want))
				}
			}
			check("server", r.serverErr, tt.serverErr)
			check("client", r.clientErr, tt.clientErr)
		})
	}
}

func TestHandshakeNeedsTLS13(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "cluster CA")
	server, client := testMaterial(t, ca, ca, 1, certOpts{}), testMaterial(t, ca, ca, 2, certOpts{})
	for _, old := range []string{"client", "server"} {
		t.Run(old, func(t *testing.T) {
			t.Parallel()
			scfg, ccfg := server.serverConfig(), client.clientConfig(1)
			// The other end must insist on TLS 1.3 by itself.
			if old == "client" {
				ccfg.MinVersion, ccfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			} else {
				scfg.MinVersion, scfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			}
			r := tlsHandshake(t, scfg, ccfg)
			if KindOf(r.serverErr) != KindTLSHandshake || KindOf(r.clientErr) != KindTLSHandshake {
				t.Fatalf("TLS 1.2 %s: server: %v; client: %v; want both to fail", old, r.serverErr, r.clientErr)
			}
		})
	}
}

func parseTestCert(t testing.TB, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM block")
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
