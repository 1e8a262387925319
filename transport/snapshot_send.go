package transport

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
)

// SendSnapshot streams s to s.Message.To in the background and reports the
// outcome through Handler.SnapshotStatus. It fails at once, and then no
// report follows, when s is malformed, the peer unknown, the transport
// closed, or SnapshotQueueMax sends are already waiting.
func (t *Transport) SendSnapshot(s OutgoingSnapshot) error {
	m := &s.Message
	switch {
	case m.Type != consensus.MsgSnap || m.Snapshot == nil || m.Snapshot.Index == 0:
		return fmt.Errorf("%w: SendSnapshot needs a MsgSnap with snapshot metadata, got %s", ErrSnapshot, m.Type)
	case s.Data == nil || s.Size < 0:
		return fmt.Errorf("%w: snapshot for group %d has no data", ErrSnapshot, s.Group)
	}
	// Under peersMu, so that Close, which takes it after marking the
	// transport closed, never waits for a send it did not see start.
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	p := t.peer(m.To)
	if p == nil {
		return fmt.Errorf("%w: snapshot for group %d to unknown node %d", ErrSnapshot, s.Group, m.To)
	}
	if t.snap.queued.Add(1) > int64(t.cfg.SnapshotQueueMax) {
		t.snap.queued.Add(-1)
		return fmt.Errorf("%w: %d snapshot sends already queued", ErrSnapshot, t.cfg.SnapshotQueueMax)
	}
	m.From = t.cfg.NodeID
	t.wg.Add(1)
	go t.snap.send(p.addr, s)
	return nil
}

// send runs one snapshot send: it waits for a stream token, then tries up
// to SnapshotAttemptsMax connections, each resuming where the receiver's
// verified data ends.
func (s *snapshots) send(addr string, snap OutgoingSnapshot) {
	t := s.t
	defer t.wg.Done()
	defer s.queued.Add(-1)
	to := snap.Message.To
	report := func(ok bool) {
		if ok {
			t.stats.snapshotsSent.Add(1)
		} else {
			t.stats.snapshotsFailed.Add(1)
		}
		t.cfg.Handler.SnapshotStatus(snap.Group, to, ok)
	}
	select {
	case s.sendSem <- struct{}{}:
	case <-t.ctx.Done():
		report(false)
		return
	}
	defer func() { <-s.sendSem }()
	bo := backoff{min: t.cfg.BackoffMin, max: t.cfg.BackoffMax}
	for attempt := 1; ; attempt++ {
		final, err := s.attempt(addr, &snap)
		if err == nil {
			t.log.Info("sent a snapshot", "peer", to, "group", snap.Group, "index", snap.Message.Snapshot.Index, "bytes", snap.Size, "attempts", attempt)
			report(true)
			return
		}
		if t.ctx.Err() != nil {
			report(false)
			return
		}
		t.countError(err, "snapshot stream failed", "peer", to, "group", snap.Group, "attempt", attempt, "final", final)
		if final || attempt >= t.cfg.SnapshotAttemptsMax || !sleepCtx(t.ctx, bo.next()) {
			report(false)
			return
		}
	}
}

// errFinal marks a failure that another attempt cannot fix.
var errFinal = errors.New("final")

// attempt makes one connection and streams from the receiver's offset. It
// reports final when retrying cannot help: the receiver refused the
// snapshot, or the local data cannot be read.
func (s *snapshots) attempt(addr string, snap *OutgoingSnapshot) (final bool, err error) {
	t := s.t
	to := snap.Message.To
	l, err := t.dial(t.ctx, to, addr, connSnapshot)
	if err != nil {
		return false, err
	}
	if !t.track(l) {
		return true, ErrClosed
	}
	defer t.untrack(l)
	defer l.close(nil)
	chunk := t.cfg.SnapshotChunkBytes
	hdr, err := appendSnapHeader(nil, snap, chunk)
	if err != nil {
		return true, err
	}
	if err := s.write(l, appendFrame(nil, frameSnapHeader, hdr, l.checksum)); err != nil {
		return false, err
	}
	off, err := s.readResume(l, snap.Size, chunk)
	if err != nil {
		return errors.Is(err, errFinal), err
	}
	if off > 0 {
		t.stats.snapshotResumes.Add(1)
		t.log.Info("resuming a snapshot stream", "peer", to, "group", snap.Group, "offset", off, "bytes", snap.Size)
	}
	buf := make([]byte, chunk)
	whole, err := crcOfPrefix(snap.Data, off, buf)
	if err != nil {
		return true, err
	}
	frame := make([]byte, 0, frameHeaderBytes+snapshotChunkOverhead+chunk)
	for off < snap.Size {
		n := int(min(int64(chunk), snap.Size-off))
		if err := readFullAt(snap.Data, buf[:n], off); err != nil {
			return true, fmt.Errorf("%w: reading the snapshot of group %d at %d: %w", ErrSnapshot, snap.Group, off, err)
		}
		whole = crc32.Update(whole, castagnoli, buf[:n])
		var fo int
		frame, fo = beginFrame(frame[:0], frameSnapChunk)
		frame = appendChunkHeader(frame, off, crc32.Checksum(buf[:n], castagnoli))
		frame = append(frame, buf[:n]...)
		finishFrame(frame, fo, l.checksum)
		if err := s.write(l, frame); err != nil {
			return false, err
		}
		t.stats.snapshotBytesSent.Add(uint64(n))
		off += int64(n)
	}
	if err := s.write(l, appendFrame(nil, frameSnapEnd, appendUvarintPayload(nil, uint64(whole)), l.checksum)); err != nil {
		return false, err
	}
	// The receiver syncs the file before it answers.
	l.conn.SetReadDeadline(time.Now().Add(t.cfg.IdleTimeout))
	typ, p, err := l.readFrame()
	if err == nil && typ != frameSnapResult {
		err = fmt.Errorf("%w: %s frame instead of the snapshot result", ErrUnexpectedFrame, typ)
	}
	if err != nil {
		return false, readErr(err)
	}
	res, reason, err := decodeResult(p)
	switch {
	case err != nil:
		return false, err
	case res == snapInstalled:
		return false, nil
	case res == snapBusy:
		return false, fmt.Errorf("%w: node %d is busy: %s", ErrSnapshot, to, reason)
	}
	return true, fmt.Errorf("%w: node %d refused the snapshot of group %d: %s", ErrSnapshot, to, snap.Group, reason)
}

func (s *snapshots) write(l *link, b []byte) error {
	l.conn.SetWriteDeadline(time.Now().Add(s.t.cfg.WriteTimeout))
	if _, err := l.conn.Write(b); err != nil {
		return fmt.Errorf("%w: snapshot stream to node %d: %w", ErrIO, l.peer, err)
	}
	return nil
}

// readResume reads the receiver's answer to the header: the offset to go
// on from, or a result saying it will not take the stream.
func (s *snapshots) readResume(l *link, size int64, chunk int) (int64, error) {
	l.conn.SetReadDeadline(time.Now().Add(s.t.cfg.IdleTimeout))
	typ, p, err := l.readFrame()
	if err != nil {
		return 0, readErr(err)
	}
	switch typ {
	case frameSnapResume:
	case frameSnapResult:
		res, reason, err := decodeResult(p)
		if err != nil {
			return 0, err
		}
		if res == snapBusy {
			return 0, fmt.Errorf("%w: node %d is busy: %s", ErrSnapshot, l.peer, reason)
		}
		return 0, fmt.Errorf("%w: node %d refused the stream: %s (%w)", ErrSnapshot, l.peer, reason, errFinal)
	default:
		return 0, fmt.Errorf("%w: %s frame instead of the resume offset", ErrUnexpectedFrame, typ)
	}
	v, err := decodeUvarintPayload(p, "snapshot resume")
	if err != nil {
		return 0, err
	}
	if off := int64(v); v <= uint64(size) && (off == size || off%int64(chunk) == 0) {
		return off, nil
	}
	return 0, fmt.Errorf("%w: resume offset %d for %d bytes in chunks of %d", ErrMalformed, v, size, chunk)
}

func readErr(err error) error {
	if err == io.EOF {
		return fmt.Errorf("%w: peer closed the snapshot stream", ErrIO)
	}
	return linkReadError(err)
}

// crcOfPrefix is the CRC32C of the first n bytes of r: the sender's share
// of the whole-stream checksum when a stream resumes.
func crcOfPrefix(r io.ReaderAt, n int64, buf []byte) (uint32, error) {
	var crc uint32
	for off := int64(0); off < n; {
		k := int(min(int64(len(buf)), n-off))
		if err := readFullAt(r, buf[:k], off); err != nil {
			return 0, fmt.Errorf("%w: reading the snapshot at %d: %w", ErrSnapshot, off, err)
		}
		crc = crc32.Update(crc, castagnoli, buf[:k])
		off += int64(k)
	}
	return crc, nil
}

// readFullAt fills b from r at off; a ReaderAt may report io.EOF with the
// last full read, which is not a failure.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
