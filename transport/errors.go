package transport

import (
	"errors"
	"fmt"
)

// ErrorKind classifies what went wrong on a connection, for the error
// counters of Stats and the logs: each kind of bad input has its own.
type ErrorKind uint8

const (
	KindOther ErrorKind = iota
	KindClusterMismatch
	KindVersionMismatch
	KindWrongNode
	KindCertNodeMismatch
	KindUnknownCA
	KindCertExpired
	KindTLSHandshake
	KindPlaintextRefused
	KindFrameTooLarge
	KindTruncatedFrame
	KindBadMagic
	KindChecksum
	KindMalformed
	KindUnexpectedFrame
	KindRejected
	KindDial
	KindIO
	KindSnapshot
	KindUnreachable
	KindPeerBusy
	KindRemote
	numErrorKinds
)

var errorKindNames = [numErrorKinds]string{
	KindOther:            "other",
	KindClusterMismatch:  "cluster_mismatch",
	KindVersionMismatch:  "version_mismatch",
	KindWrongNode:        "wrong_node",
	KindCertNodeMismatch: "cert_node_mismatch",
	KindUnknownCA:        "unknown_ca",
	KindCertExpired:      "cert_expired",
	KindTLSHandshake:     "tls_handshake",
	KindPlaintextRefused: "plaintext_refused",
	KindFrameTooLarge:    "frame_too_large",
	KindTruncatedFrame:   "truncated_frame",
	KindBadMagic:         "bad_magic",
	KindChecksum:         "checksum",
	KindMalformed:        "malformed",
	KindUnexpectedFrame:  "unexpected_frame",
	KindRejected:         "rejected_by_peer",
	KindDial:             "dial",
	KindIO:               "io",
	KindSnapshot:         "snapshot",
	KindUnreachable:      "unreachable",
	KindPeerBusy:         "peer_busy",
	KindRemote:           "remote",
}

// String is the kind's label in metrics: lower case, underscores.
func (k ErrorKind) String() string {
	if k < numErrorKinds {
		return errorKindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", uint8(k))
}

// ErrorKinds lists every kind, in order, for exporters.
func ErrorKinds() []ErrorKind {
	ks := make([]ErrorKind, numErrorKinds)
	for i := range ks {
		ks[i] = ErrorKind(i)
	}
	return ks
}

// The sentinel errors. Every error the transport returns or logs for a
// connection wraps exactly one of them, with details of what was seen.
var (
	ErrClusterMismatch  = errors.New("transport: peer belongs to another cluster")
	ErrVersionMismatch  = errors.New("transport: peer speaks another protocol version")
	ErrWrongNode        = errors.New("transport: addressed to another node")
	ErrCertNodeMismatch = errors.New("transport: peer certificate names another node")
	ErrUnknownCA        = errors.New("transport: peer certificate signed by an unknown authority")
	ErrCertExpired      = errors.New("transport: peer certificate expired or not yet valid")
	ErrTLSHandshake     = errors.New("transport: TLS handshake failed")
	ErrPlaintextRefused = errors.New("transport: plaintext connection refused, TLS is required")
	ErrFrameTooLarge    = errors.New("transport: frame larger than the maximum")
	ErrTruncatedFrame   = errors.New("transport: truncated frame")
	ErrBadMagic         = errors.New("transport: not a raftpipe frame")
	ErrChecksum         = errors.New("transport: frame checksum mismatch")
	ErrMalformed        = errors.New("transport: malformed frame payload")
	ErrUnexpectedFrame  = errors.New("transport: unexpected frame type")
	ErrRejected         = errors.New("transport: rejected by peer")
	ErrDial             = errors.New("transport: dial failed")
	ErrIO               = errors.New("transport: connection failed")
	ErrSnapshot         = errors.New("transport: snapshot stream failed")
	// ErrUnreachable fails a call (Transport.Call) that got no answer
	// because of the connection: the node could not be reached, or its
	// call connection was lost while the call was in flight, in which case
	// the node may have served the request. It wraps the cause.
	ErrUnreachable = errors.New("transport: node unreachable")
	// ErrNotSent marks a failed call whose request never left this node
	// (no address, no connection could be made, the transport closed):
	// the node certainly did not serve it. It wraps alongside the cause.
	ErrNotSent = errors.New("transport: request not sent")
	// ErrPeerBusy fails a call the node refused at once, unserved: it was
	// serving CallsServedMax calls from this node, or its CallHandler
	// answered with an error wrapping ErrPeerBusy.
	ErrPeerBusy = errors.New("transport: peer busy")
	// ErrRemote fails a call whose CallHandler returned an error; the
	// handler's error text follows.
	ErrRemote = errors.New("transport: the peer's call handler failed")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("transport: closed")
	// ErrInvalidConfig wraps every config validation error.
	ErrInvalidConfig = errors.New("transport: invalid config")
)

var kindErrors = [numErrorKinds]error{
	KindClusterMismatch:  ErrClusterMismatch,
	KindVersionMismatch:  ErrVersionMismatch,
	KindWrongNode:        ErrWrongNode,
	KindCertNodeMismatch: ErrCertNodeMismatch,
	KindUnknownCA:        ErrUnknownCA,
	KindCertExpired:      ErrCertExpired,
	KindTLSHandshake:     ErrTLSHandshake,
	KindPlaintextRefused: ErrPlaintextRefused,
	KindFrameTooLarge:    ErrFrameTooLarge,
	KindTruncatedFrame:   ErrTruncatedFrame,
	KindBadMagic:         ErrBadMagic,
	KindChecksum:         ErrChecksum,
	KindMalformed:        ErrMalformed,
	KindUnexpectedFrame:  ErrUnexpectedFrame,
	KindRejected:         ErrRejected,
	KindDial:             ErrDial,
	KindIO:               ErrIO,
	KindSnapshot:         ErrSnapshot,
	KindUnreachable:      ErrUnreachable,
	KindPeerBusy:         ErrPeerBusy,
	KindRemote:           ErrRemote,
}

// KindOf classifies err by the sentinel it wraps; KindOther when none.
// Kinds are checked in order, so an error wrapping a specific sentinel and
// a general one (say ErrUnknownCA and ErrTLSHandshake) takes the specific.
func KindOf(err error) ErrorKind {
	for k := KindOther + 1; k < numErrorKinds; k++ {
		if errors.Is(err, kindErrors[k]) {
			return k
		}
	}
	return KindOther
}
