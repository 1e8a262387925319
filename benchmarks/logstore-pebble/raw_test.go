package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// rawLog is the ceiling: what the disk does with the payload alone. A write
// copies the entries' data, and nothing else (no index, no term, no
// checksum, no hard state), into one buffer, writes it with one WriteAt at
// the next offset of a preallocated file, and calls fdatasync. A file that
// cannot take the next write is left as it is and a fresh one is created
// and preallocated, as a WAL rotates its segments. A real log must at
// least frame and checksum its records; this one cannot be read back
// without the extents it keeps in memory.
type rawLog struct {
	dir          string
	segmentBytes int64
	f            *os.File
	fd           int   // f's descriptor, for fdatasync
	seg          int   // number of the open file, from 1
	off          int64 // where the next write goes in f. Invariant: off <= segmentBytes.
	buf          []byte
	entries      uint64
	writes       uint64   // writes made, each with one fdatasync
	bytes        uint64   // bytes written
	extents      []extent // where each write went, for the harness test
}

type extent struct {
	seg int
	off int64
	n   int
}

const defaultSegmentBytes = 64 << 20

func openRaw(dir string, segmentBytes int64) (store, error) {
	if segmentBytes == 0 {
		segmentBytes = defaultSegmentBytes
	}
	r := &rawLog{dir: dir, segmentBytes: segmentBytes}
	if err := r.rotate(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rawLog) path(seg int) string { return filepath.Join(r.dir, fmt.Sprintf("%06d.raw", seg)) }

// rotate closes the open file, whose writes were each synced, and opens
// the next one, preallocated so that writes never change its size.
func (r *rawLog) rotate() error {
	if r.f != nil {
		if err := r.f.Close(); err != nil {
			return err
		}
		r.f = nil
	}
	f, err := os.OpenFile(r.path(r.seg+1), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	fd := int(f.Fd())
	if err := syscall.Fallocate(fd, 0, 0, r.segmentBytes); err != nil {
		f.Close()
		return err
	}
	// The file's name must be durable before a write in it is
	// acknowledged; its size becomes durable with the first fdatasync.
	if err := syncDir(r.dir); err != nil {
		f.Close()
		return err
	}
	r.f, r.fd, r.seg, r.off = f, fd, r.seg+1, 0
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *rawLog) write(ws []groupWrite) error {
	r.buf = r.buf[:0]
	n := 0
	for _, w := range ws {
		for _, e := range w.ents {
			r.buf = append(r.buf, e.Data...)
		}
		n += len(w.ents)
	}
	size := int64(len(r.buf))
	if size > r.segmentBytes {
		return fmt.Errorf("raw: write of %d bytes exceeds segment of %d", size, r.segmentBytes)
	}
	if r.off+size > r.segmentBytes {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	if _, err := r.f.WriteAt(r.buf, r.off); err != nil {
		return err
	}
	if err := syscall.Fdatasync(r.fd); err != nil {
		return err
	}
	r.extents = append(r.extents, extent{seg: r.seg, off: r.off, n: len(r.buf)})
	r.off += size
	r.entries += uint64(n)
	r.writes++
	r.bytes += uint64(size)
	return nil
}

func (r *rawLog) counters() (uint64, uint64, uint64) { return r.entries, r.writes, r.bytes }

func (r *rawLog) close() error {
	err := r.f.Close()
	r.f = nil
	return err
}

// written reads back the bytes of every write from the files, after close,
// and checks that preallocation held: every file is segmentBytes long.
func (r *rawLog) written() ([][]byte, error) {
	files := map[int][]byte{}
	out := make([][]byte, 0, len(r.extents))
	for _, x := range r.extents {
		data, ok := files[x.seg]
		if !ok {
			var err error
			if data, err = os.ReadFile(r.path(x.seg)); err != nil {
				return nil, err
			}
			if int64(len(data)) != r.segmentBytes {
				return nil, fmt.Errorf("%s: %d bytes, preallocated %d", r.path(x.seg), len(data), r.segmentBytes)
			}
			files[x.seg] = data
		}
		out = append(out, data[x.off:x.off+int64(x.n)])
	}
	return out, nil
}
