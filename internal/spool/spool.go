// Package spool holds the bodies the gateway buffers (request bodies before
// they are forwarded, and opted-in upstream responses) within a process-wide
// budget, so that many large bodies at once cannot exhaust memory.
//
// A body is held in memory up to a per-body threshold; past it, it is
// spilled to a file in a private directory (mode 0700). Each file is unlinked
// as soon as it is created, so it has no name while in use and nothing
// lingers after a crash: the space returns to the file system when the
// file is closed or the process dies. Bytes in memory and bytes on disk are
// each counted against a budget; a body that cannot get room fails with an
// error wrapping ErrNoRoom, and the caller answers 503 (requests) or streams
// instead (responses). Nothing ever waits for room.
package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// Config is the budget of a process.
type Config struct {
	// Dir is where bodies are spilled; "" means rampart-bodies-UID under
	// os.TempDir().
	Dir string
	// Threshold is the most one body holds in memory before it is spilled.
	Threshold int64
	// MemoryBudget bounds the bytes all bodies hold in memory.
	MemoryBudget int64
	// SpillBudget bounds the bytes all spilled bodies hold on disk; 0 means
	// bodies are never spilled.
	SpillBudget int64
}

// ErrNoRoom is wrapped by the errors of a body that could not be held: a
// budget is exhausted, or the spill file could not be written (disk full).
var ErrNoRoom = errors.New("spool: no room for the body")

// filePrefix names spill files between their creation and their unlinking
// (an instant); New removes any left by a crash in that instant.
const filePrefix = "body-"

// Budget is the process-wide account of buffered bodies. It is safe for
// concurrent use.
type Budget struct {
	cfg       Config
	given     Config // as passed to New, for Matches
	mem, disk atomic.Int64
}

// New checks cfg, prepares the spill directory (created with mode 0700 if
// missing; an existing one must be a directory owned by this user and is
// made private) and removes spill files a crash left there. A directory
// that cannot be written fails here, at start, not on the first large body.
func New(cfg Config) (*Budget, error) {
	if cfg.Threshold <= 0 || cfg.MemoryBudget < cfg.Threshold || cfg.SpillBudget < 0 {
		return nil, fmt.Errorf("spool: invalid budget (threshold %d, memory %d, spill %d)", cfg.Threshold, cfg.MemoryBudget, cfg.SpillBudget)
	}
	given := cfg
	if cfg.SpillBudget == 0 {
		return &Budget{cfg: cfg, given: given}, nil
	}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(os.TempDir(), fmt.Sprintf("rampart-bodies-%d", os.Getuid()))
	}
	if err := prepareDir(cfg.Dir); err != nil {
		return nil, fmt.Errorf("body spill directory %s: %w", cfg.Dir, err)
	}
	return &Budget{cfg: cfg, given: given}, nil
}

func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("owned by uid %d, not by this process's user (%d)", uid, os.Getuid())
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), filePrefix) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	f, err := createUnlinked(dir)
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	return f.Close()
}

// createUnlinked creates a private file in dir and removes its name at once.
func createUnlinked(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, filePrefix+"*")
	if err != nil {
		return nil, err
	}
	// Another gateway starting on this directory may have removed the name
	// already (prepareDir clears leftovers): gone is what we want.
	if err := os.Remove(f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// Matches reports whether b was made from cfg.
func (b *Budget) Matches(cfg Config) bool { return b != nil && b.given == cfg }

// Dir is the spill directory ("" when bodies are never spilled).
func (b *Budget) Dir() string {
	if b.cfg.SpillBudget == 0 {
		return ""
	}
	return b.cfg.Dir
}

// InUse reports the bytes held in memory and on disk.
func (b *Budget) InUse() (memory, disk int64) { return b.mem.Load(), b.disk.Load() }

// Reserve accounts for n bytes of body held in memory by someone else (the
// WAF engine keeps its own copy of what it inspects), so that the memory
// budget bounds those copies too. It fails with ErrNoRoom when the budget
// cannot take them; what it reserved is given back with Release.
func (b *Budget) Reserve(n int64) error {
	if n > 0 && !reserve(&b.mem, n, b.cfg.MemoryBudget) {
		return fmt.Errorf("%w: memory budget exhausted", ErrNoRoom)
	}
	return nil
}

// Release gives back n bytes taken with Reserve.
func (b *Budget) Release(n int64) {
	if n > 0 {
		b.mem.Add(-n)
	}
}

func reserve(n *atomic.Int64, k, limit int64) bool {
	if n.Add(k) > limit {
		n.Add(-k)
		return false
	}
	return true
}

// Buffer is one body: bytes in memory, or a spilled file. It is used by one
// goroutine; Free returns its room to the budget.
type Buffer struct {
	b        *Budget
	mem      []byte
	memMax   int64 // the most held in memory before spilling
	spill    bool  // the body may be spilled
	f        *os.File
	n        int64 // bytes held
	memHeld  int64 // reserved for mem's capacity
	diskHeld int64 // reserved on disk: the file's size, or a declared size
	scratch  []byte
	probe    [1]byte
	reuse    bool // ReuseMemory: mem goes back to memPools when let go
	// tail holds bytes read but not stored when the body ran out of room,
	// so that readers miss nothing (a response streams on after them).
	tail []byte
}

// Buffer starts a body of about hint bytes (0: unknown). A body of at most
// the threshold stays in memory; a larger one, or one that finds the memory
// budget exhausted, is spilled. With inMemory it is never spilled and may
// hold up to limit bytes in memory (for consumers that need the bytes).
// A hint that alone exceeds the room fails at once, before anything is read.
func (b *Budget) Buffer(hint, limit int64, inMemory bool) (*Buffer, error) {
	s := &Buffer{b: b, memMax: b.cfg.Threshold, spill: !inMemory && b.cfg.SpillBudget > 0}
	if inMemory {
		s.memMax = limit
	}
	if hint > s.memMax {
		if !s.spill {
			return nil, fmt.Errorf("%w: %d bytes exceed the memory a body may hold", ErrNoRoom, hint)
		}
		// A declared size is reserved whole, so that concurrent uploads
		// are refused before they are read rather than half-way through.
		if !reserve(&b.disk, hint, b.cfg.SpillBudget) {
			return nil, fmt.Errorf("%w: spill budget exhausted", ErrNoRoom)
		}
		s.diskHeld = hint
		if err := s.toFile(); err != nil {
			s.Free()
			return nil, err
		}
		return s, nil
	}
	if hint > 0 {
		if err := s.grow(hint); err != nil {
			s.Free()
			return nil, err
		}
	}
	return s, nil
}

// grow makes room in memory for a capacity of want bytes, spilling when
// memory is not to be had.
func (s *Buffer) grow(want int64) error {
	c := min(max(want, 2*int64(cap(s.mem)), 512), s.memMax)
	class, pooled := memClass(c)
	if pooled && int64(1)<<class <= s.memMax {
		c = int64(1) << class // a whole class, so that it can be reused
	} else {
		pooled = false
	}
	if want > s.memMax || !reserve(&s.b.mem, c-s.memHeld, s.b.cfg.MemoryBudget) {
		if !s.spill {
			return fmt.Errorf("%w: memory budget exhausted", ErrNoRoom)
		}
		return s.toFile()
	}
	s.memHeld = c
	var nb []byte
	if pooled {
		if p, _ := memPools[class-minClass].Get().(*[]byte); p != nil {
			nb = (*p)[:len(s.mem)]
		}
	}
	if nb == nil {
		nb = make([]byte, len(s.mem), c)
	}
	copy(nb, s.mem)
	s.letGo()
	s.mem = nb
	return nil
}

// Recycled body memory, by capacity: powers of two from 64 KiB to 64 MiB.
// A large body's make costs zeroing it and, at upload rates, garbage
// collections (1 MiB uploads: 15% of the proxy's CPU in memclr, 9% in the
// collector). A pooled slice's bytes past its length are an earlier body's:
// only bytes a body wrote itself are ever read.
const (
	minClass = 16
	maxClass = 26
)

var memPools [maxClass - minClass + 1]sync.Pool

// memClass returns the class that holds c bytes, when there is one.
func memClass(c int64) (class int, ok bool) {
	if c <= 1<<(minClass-1) || c > 1<<maxClass {
		return 0, false
	}
	return bits.Len64(uint64(c - 1)), true
}

// ReuseMemory lets the body's memory be reused by later bodies once it is
// freed (or outgrown): its owner promises that nothing keeps the bytes
// (Bytes, Unread) past Free.
func (s *Buffer) ReuseMemory() { s.reuse = true }

// letGo drops mem, to the pool when it may be reused.
func (s *Buffer) letGo() {
	if s.reuse {
		if class, ok := memClass(int64(cap(s.mem))); ok && cap(s.mem) == 1<<class {
			b := s.mem[:0]
			memPools[class-minClass].Put(&b)
		}
	}
	s.mem = nil
}

// toFile moves the body to a new spill file.
func (s *Buffer) toFile() error {
	f, err := createUnlinked(s.b.cfg.Dir)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoRoom, err)
	}
	s.f = f
	mem := s.mem
	s.n = 0
	if err := s.writeFile(mem); err != nil {
		return err
	}
	s.b.mem.Add(-s.memHeld)
	s.letGo()
	s.memHeld = 0
	return nil
}

func (s *Buffer) writeFile(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if need := s.n + int64(len(p)) - s.diskHeld; need > 0 {
		if !reserve(&s.b.disk, need, s.b.cfg.SpillBudget) {
			s.tail = p
			return fmt.Errorf("%w: spill budget exhausted", ErrNoRoom)
		}
		s.diskHeld += need
	}
	k, err := s.f.Write(p)
	s.n += int64(k)
	if err != nil {
		s.tail = p[k:]
		return fmt.Errorf("%w: %v", ErrNoRoom, err)
	}
	return nil
}

// Fill reads r into the body until r ends (complete) or the body holds
// limit bytes. An error from r is returned as it is; the body's own failures
// wrap ErrNoRoom, and then Open still reads every byte taken from r.
func (s *Buffer) Fill(r io.Reader, limit int64) (complete bool, err error) {
	for s.n < limit {
		var p []byte
		if s.f == nil {
			if len(s.mem) == cap(s.mem) {
				// Full (often exactly to a declared size): only a byte that
				// does come makes the body grow.
				k, rerr := r.Read(s.probe[:])
				if k > 0 {
					if err := s.grow(int64(len(s.mem)) + 1); err != nil {
						s.tail = s.probe[:k]
						return false, err
					}
					if err := s.append(s.probe[:k]); err != nil {
						return false, err
					}
				}
				if rerr == io.EOF {
					return true, nil
				}
				if rerr != nil {
					return false, rerr
				}
				continue
			}
			p = s.mem[len(s.mem):cap(s.mem)]
		} else {
			if s.scratch == nil {
				s.scratch = make([]byte, 32<<10)
			}
			p = s.scratch
		}
		p = p[:min(int64(len(p)), limit-s.n)]
		k, rerr := r.Read(p)
		if k > 0 {
			if s.f == nil {
				s.mem = s.mem[:len(s.mem)+k]
				s.n += int64(k)
			} else if err := s.writeFile(p[:k]); err != nil {
				return false, err
			}
		}
		if rerr == io.EOF {
			return true, nil
		}
		if rerr != nil {
			return false, rerr
		}
	}
	return false, nil
}

// Write appends p, for writers that are handed bytes rather than a reader
// (a response held back by a step). A failure to find room wraps ErrNoRoom
// and stores nothing of p.
func (s *Buffer) Write(p []byte) (int, error) {
	if s.f == nil && len(s.mem)+len(p) > cap(s.mem) {
		if err := s.grow(int64(len(s.mem) + len(p))); err != nil {
			return 0, err
		}
	}
	if err := s.append(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// append adds p after a grow, in memory or in the file it spilled to.
func (s *Buffer) append(p []byte) error {
	if s.f != nil {
		return s.writeFile(p)
	}
	s.mem = append(s.mem, p...)
	s.n += int64(len(p))
	return nil
}

// Len is the number of bytes held.
func (s *Buffer) Len() int64 { return s.n }

// Bytes returns the body when it is in memory (ok false when spilled). The
// slice is the buffer's own: it must not be modified or kept after Free.
func (s *Buffer) Bytes() (b []byte, ok bool) { return s.mem, s.f == nil }

// Open returns a reader of the whole body from its start; each reader is
// independent (a retry reads the body again).
func (s *Buffer) Open() *Reader {
	var r io.Reader
	if s.f == nil {
		r = bytes.NewReader(s.mem)
	} else {
		r = io.NewSectionReader(s.f, 0, s.n)
	}
	if len(s.tail) > 0 {
		r = io.MultiReader(r, bytes.NewReader(s.tail))
	}
	return &Reader{s: s, r: r}
}

// Free releases the room the body held (and closes its file, which frees
// the disk space). Readers must not be used after it.
func (s *Buffer) Free() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	s.b.disk.Add(-s.diskHeld)
	s.b.mem.Add(-s.memHeld)
	s.letGo()
	s.tail, s.memHeld, s.diskHeld, s.n = nil, 0, 0, 0
}

// Reader reads a Buffer; it is the request body the gateway hands on, so
// consumers can reach the bytes without copying them (Buffer).
type Reader struct {
	s *Buffer
	r io.Reader
}

func (r *Reader) Read(p []byte) (int, error) { return r.r.Read(p) }

// Unread returns the bytes of an in-memory body this reader has not read
// yet, without copying them (ok false when the body spilled to a file), so
// that a proxy writes them in one call. They must not be modified; Skip
// reports them written.
func (r *Reader) Unread() (b []byte, ok bool) {
	br, ok := r.r.(*bytes.Reader)
	if !ok {
		return nil, false
	}
	return r.s.mem[len(r.s.mem)-br.Len():], true
}

// Skip marks n unread bytes as read.
func (r *Reader) Skip(n int) {
	if br, ok := r.r.(*bytes.Reader); ok {
		_, _ = br.Seek(int64(n), io.SeekCurrent)
	}
}

// Close does nothing: the Buffer's owner frees it.
func (r *Reader) Close() error { return nil }

// Buffer is the body this reader reads.
func (r *Reader) Buffer() *Buffer { return r.s }
