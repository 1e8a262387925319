package transport

// Mutual TLS between nodes.
//
// Ordinary TLS checks that the server's certificate names the host that was
// dialed. That is the wrong identity here: a node keeps its Raft identity,
// its node ID, when it moves to another host or address, and an address can
// be reused by another node. What matters to Raft is that the peer is the
// node it claims to be: a certificate naming node 3 must not be able to pose
// as node 2, even if it is valid and issued by the cluster CA. So every node
// certificate names its node ID in a URI SAN raftpipe://node/<id>, hostname
// verification is turned off, and each side verifies the chain to the
// cluster CA itself and then checks the node ID: the client at once against
// the node it dialed, the server after the handshake against the ID the
// client claims in its hello (see peerNodeID).

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// TLSFiles names the PEM files of mutual TLS. All three are required when TLS is on.
type TLSFiles struct {
	CAFile   string // the cluster CA certificate(s); peers' certificates must chain to one of them
	CertFile string // this node's certificate chain (leaf first), naming this node as raftpipe://node/<id>
	KeyFile  string // this node's private key
}

type tlsMaterial struct {
	roots *x509.CertPool
	cert  tls.Certificate
	now   func() time.Time // time.Now; tests may replace it
}

const nodeURIPrefix = "raftpipe://node/"

// loadTLS reads and checks the files for node self, so that a node with
// unusable TLS material fails at start instead of at its first connection.
// Every error wraps ErrInvalidConfig (and no connection sentinel) and names
// the file at fault.
func loadTLS(f TLSFiles, self uint64) (*tlsMaterial, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if f.CAFile == "" || f.CertFile == "" || f.KeyFile == "" {
		return nil, invalid("TLS needs a CA file, a cert file and a key file (have %q, %q, %q)", f.CAFile, f.CertFile, f.KeyFile)
	}
	caPEM, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, invalid("CA file %q: %v", f.CAFile, err)
	}
	roots, n, err := parseCAs(caPEM)
	if err != nil {
		return nil, invalid("CA file %q: %v", f.CAFile, err)
	}
	if n == 0 {
		return nil, invalid("CA file %q holds no PEM certificate", f.CAFile)
	}
	// LoadX509KeyPair reports unreadable files with the path in the error.
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, invalid("cert file %q with key file %q: %v", f.CertFile, f.KeyFile, err)
	}
	chain, err := parseChain(cert.Certificate)
	if err != nil {
		return nil, invalid("cert file %q: %v", f.CertFile, err)
	}
	leaf := chain[0]
	id, err := certNodeID(leaf)
	if err != nil {
		return nil, invalid("cert file %q: %v", f.CertFile, err)
	}
	if id != self {
		return nil, invalid("cert file %q: certificate %s names node %d, but this is node %d", f.CertFile, certName(leaf), id, self)
	}
	now := time.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, invalid("cert file %q: certificate %s is expired or not yet valid: valid from %s until %s, now %s",
			f.CertFile, certName(leaf), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	// The one certificate serves both ends of connections, so peers will
	// check it for both usages.
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if err := verifyChain(roots, chain, now, usage); err != nil {
			return nil, invalid("cert file %q does not verify against CA file %q: %v", f.CertFile, f.CAFile, err)
		}
	}
	cert.Leaf = leaf
	return &tlsMaterial{roots: roots, cert: cert, now: time.Now}, nil
}

// parseCAs parses every CERTIFICATE block, rather than using
// AppendCertsFromPEM, so that a corrupt certificate is reported instead of
// silently skipped.
func parseCAs(data []byte) (*x509.CertPool, int, error) {
	pool := x509.NewCertPool()
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return pool, n, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, 0, fmt.Errorf("certificate %d: %v", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
}

func parseChain(der [][]byte) ([]*x509.Certificate, error) {
	chain := make([]*x509.Certificate, len(der))
	for i, d := range der {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", i+1, err)
		}
		chain[i] = c
	}
	return chain, nil
}

// serverConfig accepts any client whose chain verifies against the cluster
// CA. Which node the client is becomes known only from its hello, after the
// handshake; the connection code then compares that claim with peerNodeID.
func (m *tlsMaterial) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{m.cert},
		// RequireAnyClientCert, not RequireAndVerifyClientCert: the
		// standard verification's errors wrap none of our sentinels, so
		// both ends verify alike, in VerifyConnection.
		ClientAuth: tls.RequireAnyClientCert,
		// Clients keep no session cache, and a resumed session would not
		// verify the chain again against the current CA pool.
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPeerChain(m.roots, cs.PeerCertificates, m.now(), x509.ExtKeyUsageClientAuth)
		},
	}
}

// clientConfig is for dialing node peer: the server must present a chain to
// the cluster CA that names exactly that node.
func (m *tlsMaterial) clientConfig(peer uint64) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{m.cert},
		// Turns off only the standard hostname-based verification;
		// VerifyConnection below does the real one.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if err := verifyPeerChain(m.roots, cs.PeerCertificates, m.now(), x509.ExtKeyUsageServerAuth); err != nil {
				return err
			}
			leaf := cs.PeerCertificates[0]
			id, err := NodeIDFromCert(leaf)
			if err != nil {
				return err
			}
			if id != peer {
				return fmt.Errorf("%w: dialed node %d, but the server's certificate %s names node %d",
					ErrCertNodeMismatch, peer, certName(leaf), id)
			}
			return nil
		},
	}
}

// verifyPeerChain verifies certs (leaf first) against roots at now for usage. Errors wrap:
// ErrUnknownCA for x509.UnknownAuthorityError, ErrCertExpired for x509.CertificateInvalidError with Reason Expired
// (covers not-yet-valid too), ErrTLSHandshake for anything else (no certificate, bad usage, ...).
func verifyPeerChain(roots *x509.CertPool, certs []*x509.Certificate, now time.Time, usage x509.ExtKeyUsage) error {
	if len(certs) == 0 {
		return fmt.Errorf("%w: peer presented no certificate", ErrTLSHandshake)
	}
	leaf := certs[0]
	err := verifyChain(roots, certs, now, usage)
	if err == nil {
		return nil
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w: certificate %s: %v", ErrUnknownCA, certName(leaf), err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		// The expired one may be an intermediate or the CA, not the leaf.
		bad := invalid.Cert
		if bad == nil {
			bad = leaf
		}
		where := ""
		if bad != leaf {
			where = fmt.Sprintf(" in the chain of certificate %s", certName(leaf))
		}
		return fmt.Errorf("%w: certificate %s%s is valid from %s until %s, now is %s",
			ErrCertExpired, certName(bad), where,
			bad.NotBefore.UTC().Format(time.RFC3339), bad.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	default:
		return fmt.Errorf("%w: certificate %s: %v", ErrTLSHandshake, certName(leaf), err)
	}
}

func verifyChain(roots *x509.CertPool, certs []*x509.Certificate, now time.Time, usage x509.ExtKeyUsage) error {
	if roots == nil {
		// x509.Verify would fall back to the system roots: never trust
		// those for a cluster.
		return errors.New("no CA pool to verify against")
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	return err
}

// NodeIDFromCert returns the node ID the certificate names (its one URI SAN raftpipe://node/<id>).
// No such SAN, several, or a malformed one is an error wrapping ErrCertNodeMismatch that says which.
func NodeIDFromCert(c *x509.Certificate) (uint64, error) {
	id, err := certNodeID(c)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrCertNodeMismatch, err)
	}
	return id, nil
}

// certNodeID is NodeIDFromCert without a sentinel, for loadTLS, whose
// errors are config errors.
//
// URIs of other schemes are ignored (a certificate may also carry, say, a
// SPIFFE ID), but every raftpipe URI must be a well-formed node URI: a
// certificate that names its node ambiguously names none.
func certNodeID(c *x509.Certificate) (uint64, error) {
	var ids []string
	var id uint64
	for _, u := range c.URIs {
		if u.Scheme != "raftpipe" { // url.Parse lowercases the scheme
			continue
		}
		// The canonical String form rejects userinfo, ports, queries,
		// escapes and the like in one comparison.
		s := u.String()
		n, ok := parseNodeURI(s)
		if !ok {
			return 0, fmt.Errorf("certificate %s has malformed node URI %q, want %s<id> with a decimal nonzero id without leading zeros",
				certName(c), s, nodeURIPrefix)
		}
		ids = append(ids, s)
		id = n
	}
	switch len(ids) {
	case 0:
		return 0, fmt.Errorf("certificate %s names no node: it has no %s<id> URI SAN", certName(c), nodeURIPrefix)
	case 1:
		return id, nil
	default:
		return 0, fmt.Errorf("certificate %s names several nodes: %s", certName(c), strings.Join(ids, ", "))
	}
}

func parseNodeURI(s string) (uint64, bool) {
	digits, ok := strings.CutPrefix(s, nodeURIPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || id == 0 || strconv.FormatUint(id, 10) != digits {
		return 0, false
	}
	return id, true
}

// peerNodeID returns the node ID named by the verified peer leaf of cs.
// It insists on a complete handshake: the server's VerifyConnection sees the
// client's certificate before the client has proven it holds the key.
func peerNodeID(cs tls.ConnectionState) (uint64, error) {
	if !cs.HandshakeComplete {
		return 0, fmt.Errorf("%w: peer node ID asked before the handshake completed", ErrTLSHandshake)
	}
	if len(cs.PeerCertificates) == 0 {
		return 0, fmt.Errorf("%w: peer presented no certificate", ErrTLSHandshake)
	}
	return NodeIDFromCert(cs.PeerCertificates[0])
}

// classifyTLSError turns an error from (*tls.Conn).HandshakeContext into one wrapping exactly one sentinel:
// errors already wrapping one of our sentinels (our VerifyConnection's errors come back through the handshake) keep it;
// everything else is wrapped with ErrTLSHandshake, keeping the original text.
// The original stays in the chain too, so callers can still tell, say, a
// context deadline with errors.Is.
func classifyTLSError(err error) error {
	if err == nil || KindOf(err) != KindOther {
		return err
	}
	return fmt.Errorf("%w: %w", ErrTLSHandshake, err)
}

func certName(c *x509.Certificate) string {
	return fmt.Sprintf("%q (serial %s)", c.Subject.String(), c.SerialNumber)
}
