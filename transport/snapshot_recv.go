package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// receive takes one snapshot stream on an accepted link: it admits it if
// a stream token is free, resumes any verified part of an earlier attempt,
// checks every chunk as it lands and the whole stream at the end, and
// hands the file on only once it is synced under its final name.
func (s *snapshots) receive(l *link) error {
	t := s.t
	l.conn.SetReadDeadline(time.Now().Add(t.cfg.IdleTimeout))
	typ, p, err := l.readFrame()
	if err != nil {
		return readErr(err)
	}
	if typ != frameSnapHeader {
		return fmt.Errorf("%w: %s frame instead of a snapshot header", ErrUnexpectedFrame, typ)
	}
	size, chunk, m, err := decodeSnapHeader(p, l.peer, t.cfg.NodeID)
	if err != nil {
		return err
	}
	refuse := func(r snapResult, err error) error {
		l.conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
		l.conn.Write(appendFrame(nil, frameSnapResult, appendResult(nil, r, err.Error()), l.checksum))
		return err
	}
	switch {
	case t.cfg.SnapshotDir == "":
		return refuse(snapRefused, fmt.Errorf("%w: no snapshot_dir configured", ErrSnapshot))
	case chunk+snapshotChunkOverhead > t.cfg.MaxFrameBytes:
		return refuse(snapRefused, fmt.Errorf("%w: chunks of %d bytes exceed max_frame_bytes %d", ErrSnapshot, chunk, t.cfg.MaxFrameBytes))
	}
	select {
	case s.recvSem <- struct{}{}:
		defer func() { <-s.recvSem }()
	default:
		return refuse(snapBusy, fmt.Errorf("%w: %d snapshot streams already arriving", ErrSnapshot, t.cfg.SnapshotRecvStreamsMax))
	}
	key := streamKey{from: l.peer, group: m.Group, term: m.Snapshot.Term, index: m.Snapshot.Index, size: size}
	if !s.claim(key, l) {
		return refuse(snapBusy, fmt.Errorf("%w: the same snapshot is already arriving on another connection", ErrSnapshot))
	}
	defer s.release(key, l)

	part, err := openPartial(t.cfg.SnapshotDir, key, chunk)
	if err != nil {
		return refuse(snapBusy, err)
	}
	defer part.close()
	whole, err := part.recover()
	if err != nil {
		return refuse(snapBusy, err)
	}
	off := part.good
	l.conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
	if _, err := l.conn.Write(appendFrame(nil, frameSnapResume, appendUvarintPayload(nil, uint64(off)), l.checksum)); err != nil {
		return fmt.Errorf("%w: writing the resume offset: %w", ErrIO, err)
	}
	buf := make([]byte, 0, chunk+snapshotChunkOverhead)
	for {
		l.conn.SetReadDeadline(time.Now().Add(t.cfg.IdleTimeout))
		typ, p, err := readFrame(l.r, &l.hdr, l.lim, buf)
		if err != nil {
			return readErr(err)
		}
		if typ == frameSnapEnd {
			v, err := decodeUvarintPayload(p, "snapshot end")
			if err != nil {
				return err
			}
			if off != size {
				return refuse(snapBusy, fmt.Errorf("%w: stream of group %d ended at %d of %d bytes", ErrSnapshot, key.group, off, size))
			}
			if uint64(whole) != v {
				part.discard()
				return refuse(snapBusy, fmt.Errorf("%w: group %d snapshot checksum %#08x, sender says %#08x", ErrSnapshot, key.group, whole, v))
			}
			break
		}
		if typ != frameSnapChunk {
			return fmt.Errorf("%w: %s frame in a snapshot stream", ErrUnexpectedFrame, typ)
		}
		coff, crc, data, err := decodeChunk(p)
		if err != nil {
			return err
		}
		if want := min(int64(chunk), size-off); coff != off || int64(len(data)) != want {
			return fmt.Errorf("%w: chunk of %d bytes at %d, expected %d bytes at %d", ErrMalformed, len(data), coff, want, off)
		}
		if got := crc32.Checksum(data, castagnoli); got != crc {
			return fmt.Errorf("%w: group %d snapshot chunk at %d: checksum %#08x, sender says %#08x", ErrSnapshot, key.group, off, got, crc)
		}
		if err := part.append(data, crc); err != nil {
			return refuse(snapBusy, err)
		}
		whole = crc32.Update(whole, castagnoli, data)
		off += int64(len(data))
		t.stats.snapshotBytesReceived.Add(uint64(len(data)))
	}
	path, err := part.complete()
	if err != nil {
		return refuse(snapBusy, err)
	}
	if err := t.cfg.Handler.HandleSnapshot(ReceivedSnapshot{Group: m.Group, Message: m.Message, Path: path, Size: size}); err != nil {
		os.Remove(path)
		refuse(snapRefused, fmt.Errorf("%w: the handler refused it: %w", ErrSnapshot, err))
		return nil // the handler's choice, not a transport failure
	}
	t.stats.snapshotsReceived.Add(1)
	t.log.Info("received a snapshot", "peer", l.peer, "group", m.Group, "index", key.index, "bytes", size)
	l.conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
	l.conn.Write(appendFrame(nil, frameSnapResult, appendResult(nil, snapInstalled, ""), l.checksum))
	return nil
}

// claim makes l the one link receiving key. A link still registered for
// the key belongs to an attempt whose sender has already given up on it
// (it dialed again), so it is closed; claim fails if that link does not
// let go within the idle timeout.
func (s *snapshots) claim(key streamKey, l *link) bool {
	deadline := time.Now().Add(s.t.cfg.IdleTimeout)
	for {
		s.mu.Lock()
		old := s.active[key]
		if old == nil {
			s.active[key] = l
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
		old.close(fmt.Errorf("%w: replaced by a newer attempt", ErrIO))
		if !old.waitReleased(time.Until(deadline)) {
			return false
		}
	}
}

func (s *snapshots) release(key streamKey, l *link) {
	s.mu.Lock()
	if s.active[key] == l {
		delete(s.active, key)
	}
	s.mu.Unlock()
	l.markReleased()
}

// partial is a snapshot file being received and its sidecar of chunk
// checksums: an 8-byte chunk size, then a CRC32C per chunk written.
type partial struct {
	dir, name   string
	data, sums  *os.File
	chunk, size int64
	good        int64 // bytes of data verified
}

const sidecarHeaderBytes = 8

func openPartial(dir string, key streamKey, chunk int) (*partial, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("%w: snapshot dir: %w", ErrSnapshot, err)
	}
	p := &partial{dir: dir, name: key.fileName(), chunk: int64(chunk), size: key.size}
	removeStalePartials(dir, key)
	var err error
	if p.data, err = os.OpenFile(filepath.Join(dir, p.name+".part"), os.O_RDWR|os.O_CREATE, 0o640); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if p.sums, err = os.OpenFile(filepath.Join(dir, p.name+".sums"), os.O_RDWR|os.O_CREATE, 0o640); err != nil {
		p.data.Close()
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	return p, nil
}

// removeStalePartials removes the partial files of other snapshots of the
// same group from the same node: a newer snapshot supersedes them.
func removeStalePartials(dir string, key streamKey) {
	prefix := fmt.Sprintf("snap-%d-%d-", key.from, key.group)
	matches, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
	for _, m := range matches {
		base := filepath.Base(m)
		if ext := filepath.Ext(base); (ext == ".part" || ext == ".sums") && base[:len(base)-len(ext)] != key.fileName() {
			os.Remove(m)
		}
	}
}

// recover finds how much of an earlier attempt verifies: every chunk up to
// the first whose data does not match its recorded checksum. It cuts the
// files there and returns the checksum of the data kept.
func (p *partial) recover() (uint32, error) {
	sums, err := io.ReadAll(p.sums)
	if err != nil {
		return 0, fmt.Errorf("%w: reading %s: %w", ErrSnapshot, p.sums.Name(), err)
	}
	var whole uint32
	n := int64(0)
	if len(sums) >= sidecarHeaderBytes && int64(binary.LittleEndian.Uint64(sums)) == p.chunk {
		buf := make([]byte, p.chunk)
		for i := sidecarHeaderBytes; i+4 <= len(sums) && n < p.size; i += 4 {
			k := min(p.chunk, p.size-n)
			if err := readFullAt(p.data, buf[:k], n); err != nil {
				break
			}
			if crc32.Checksum(buf[:k], castagnoli) != binary.LittleEndian.Uint32(sums[i:]) {
				break
			}
			whole = crc32.Update(whole, castagnoli, buf[:k])
			n += k
		}
	}
	p.good = n
	chunks := (n + p.chunk - 1) / p.chunk
	hdr := binary.LittleEndian.AppendUint64(nil, uint64(p.chunk))
	if err := errors.Join(p.data.Truncate(n), p.sums.Truncate(sidecarHeaderBytes+4*chunks)); err != nil {
		return 0, fmt.Errorf("%w: cutting %s back to %d bytes: %w", ErrSnapshot, p.data.Name(), n, err)
	}
	if _, err := p.sums.WriteAt(hdr, 0); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	return whole, nil
}

// append writes a verified chunk and then its checksum. Neither is synced:
// a crash leaves at worst a chunk that no longer verifies, which recover
// drops, and complete syncs the data before anyone sees it.
func (p *partial) append(data []byte, crc uint32) error {
	if _, err := p.data.WriteAt(data, p.good); err != nil {
		return fmt.Errorf("%w: writing %s: %w", ErrSnapshot, p.data.Name(), err)
	}
	at := sidecarHeaderBytes + 4*(p.good/p.chunk)
	if _, err := p.sums.WriteAt(binary.LittleEndian.AppendUint32(nil, crc), at); err != nil {
		return fmt.Errorf("%w: writing %s: %w", ErrSnapshot, p.sums.Name(), err)
	}
	p.good += int64(len(data))
	return nil
}

// complete syncs the data, gives it its final name and syncs the folder,
// so the handler is never given a file a crash could take back.
func (p *partial) complete() (string, error) {
	final := filepath.Join(p.dir, p.name+".snap")
	if err := p.data.Sync(); err != nil {
		return "", fmt.Errorf("%w: syncing %s: %w", ErrSnapshot, p.data.Name(), err)
	}
	if err := os.Rename(p.data.Name(), final); err != nil {
		return "", fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	os.Remove(p.sums.Name())
	if err := syncDir(p.dir); err != nil {
		return "", fmt.Errorf("%w: syncing %s: %w", ErrSnapshot, p.dir, err)
	}
	return final, nil
}

// discard removes both files: what they hold is not worth resuming.
func (p *partial) discard() {
	os.Remove(p.data.Name())
	os.Remove(p.sums.Name())
}

func (p *partial) close() {
	p.data.Close()
	p.sums.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}
