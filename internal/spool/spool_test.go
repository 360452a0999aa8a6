package spool

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newBudget(t *testing.T, threshold, memory, spill int64) *Budget {
	t.Helper()
	b, err := New(Config{Dir: filepath.Join(t.TempDir(), "spill"), Threshold: threshold, MemoryBudget: memory, SpillBudget: spill})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fill(t *testing.T, b *Budget, body []byte, hint int64) *Buffer {
	t.Helper()
	s, err := b.Buffer(hint, 1<<30, false)
	if err != nil {
		t.Fatal(err)
	}
	complete, err := s.Fill(bytes.NewReader(body), 1<<30)
	if err != nil || !complete {
		t.Fatalf("Fill: complete %v, err %v", complete, err)
	}
	return s
}

func readAll(t *testing.T, s *Buffer) []byte {
	t.Helper()
	got, err := io.ReadAll(s.Open())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestSmallBodyStaysInMemoryAndIsAccounted(t *testing.T) {
	b := newBudget(t, 1024, 4096, 1<<20)
	body := bytes.Repeat([]byte("a"), 1000)
	for _, hint := range []int64{0, 1000} {
		s := fill(t, b, body, hint)
		if got, ok := s.Bytes(); !ok || !bytes.Equal(got, body) {
			t.Fatalf("hint %d: Bytes ok %v, %d bytes", hint, ok, len(got))
		}
		if mem, disk := b.InUse(); mem < 1000 || mem > 1024 || disk != 0 {
			t.Fatalf("hint %d: in use mem %d disk %d", hint, mem, disk)
		}
		s.Free()
		if mem, disk := b.InUse(); mem != 0 || disk != 0 {
			t.Fatalf("after Free: mem %d disk %d", mem, disk)
		}
	}
}

func TestLargeBodySpillsToAnUnlinkedFile(t *testing.T) {
	b := newBudget(t, 1024, 4096, 1<<20)
	body := bytes.Repeat([]byte("0123456789"), 1000)
	for _, hint := range []int64{0, int64(len(body))} {
		s := fill(t, b, body, hint)
		if _, ok := s.Bytes(); ok {
			t.Fatalf("hint %d: a 10000-byte body stayed in memory past a 1024-byte threshold", hint)
		}
		if mem, disk := b.InUse(); mem != 0 || disk != int64(len(body)) {
			t.Fatalf("hint %d: in use mem %d disk %d", hint, mem, disk)
		}
		if names := dirEntries(t, b.Dir()); len(names) != 0 {
			t.Fatalf("spill file has a name while in use: %v", names)
		}
		// Two readers, as a retry makes: each reads the whole body.
		if got := readAll(t, s); !bytes.Equal(got, body) {
			t.Fatal("first read differs")
		}
		if got := readAll(t, s); !bytes.Equal(got, body) {
			t.Fatal("second read differs")
		}
		s.Free()
		if mem, disk := b.InUse(); mem != 0 || disk != 0 {
			t.Fatalf("after Free: mem %d disk %d", mem, disk)
		}
	}
}

func TestExhaustedBudgetsRefuse(t *testing.T) {
	b := newBudget(t, 1024, 2048, 4096)
	held := fill(t, b, bytes.Repeat([]byte("x"), 3000), 3000) // on disk
	defer held.Free()

	// A declared size past what is left is refused before reading.
	if _, err := b.Buffer(2000, 1<<30, false); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("declared 2000 bytes with 1096 left on disk: err %v", err)
	}
	// An undeclared one fails when it outgrows the room.
	s, err := b.Buffer(0, 1<<30, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fill(bytes.NewReader(make([]byte, 5000)), 1<<30); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("5000 undeclared bytes: err %v", err)
	}
	s.Free()
	if mem, disk := b.InUse(); mem != 0 || disk != 3000 {
		t.Fatalf("after the refused bodies: mem %d disk %d, want 0 and 3000", mem, disk)
	}
	// In-memory bodies (for validation) never spill: past the memory budget
	// they are refused.
	m1, err := b.Buffer(2000, 4000, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Free()
	if _, err := b.Buffer(2000, 4000, true); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("second in-memory body over the memory budget: err %v", err)
	}
}

func TestMemoryExhaustedSpillsInstead(t *testing.T) {
	b := newBudget(t, 1024, 1024, 1<<20)
	a := fill(t, b, make([]byte, 1000), 1000)
	defer a.Free()
	s := fill(t, b, []byte("small"), 5)
	defer s.Free()
	if _, ok := s.Bytes(); ok {
		t.Fatal("a small body was held in memory past the memory budget")
	}
	if got := readAll(t, s); string(got) != "small" {
		t.Fatalf("got %q", got)
	}
}

func TestNoSpillBudgetKeepsBodiesInMemoryOnly(t *testing.T) {
	b, err := New(Config{Dir: "/nonexistent/never/created", Threshold: 1024, MemoryBudget: 4096})
	if err != nil {
		t.Fatalf("spilling off must not touch the directory: %v", err)
	}
	if _, err := b.Buffer(2000, 1<<30, false); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("a body over the threshold without spilling: err %v", err)
	}
}

func TestFillStopsAtLimit(t *testing.T) {
	b := newBudget(t, 16, 4096, 1<<20)
	s, err := b.Buffer(0, 1<<30, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Free()
	r := strings.NewReader(strings.Repeat("z", 100))
	complete, err := s.Fill(r, 40)
	if err != nil || complete || s.Len() != 40 || r.Len() != 60 {
		t.Fatalf("complete %v err %v len %d, %d left unread", complete, err, s.Len(), r.Len())
	}
}

func TestDirIsPrivateAndCleanedOnStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spill")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, filePrefix+"123")
	if err := os.WriteFile(stale, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "operator-notes")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Dir: dir, Threshold: 16, MemoryBudget: 64, SpillBudget: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(b.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Fatalf("spill directory mode %o, want 700", perm)
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != "operator-notes" {
		t.Fatalf("after start the directory holds %v, want only the unrelated file", names)
	}

	fresh := filepath.Join(t.TempDir(), "a", "b")
	if _, err := New(Config{Dir: fresh, Threshold: 16, MemoryBudget: 64, SpillBudget: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created directory: %v, %v", fi, err)
	}
}

func TestUnwritableDirFailsAtStart(t *testing.T) {
	parent := t.TempDir()
	if os.Getuid() != 0 { // root writes anywhere: then only the cases below
		if err := os.Chmod(parent, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(parent, 0o700) })
		_, err := New(Config{Dir: filepath.Join(parent, "spill"), Threshold: 16, MemoryBudget: 64, SpillBudget: 1 << 20})
		if err == nil || !strings.Contains(err.Error(), "spill directory") {
			t.Fatalf("err %v, want a spill directory error", err)
		}
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{f, filepath.Join(f, "spill")} {
		if _, err := New(Config{Dir: dir, Threshold: 16, MemoryBudget: 64, SpillBudget: 1 << 20}); err == nil || !strings.Contains(err.Error(), "spill directory") {
			t.Fatalf("%s: err %v, want a spill directory error", dir, err)
		}
	}
}

// TestNoRoomLosesNoByte: when a body runs out of room part-way, its readers
// still get every byte taken from the source, so the rest can follow.
func TestNoRoomLosesNoByte(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	for _, spill := range []int64{0, 40 << 10} {
		b := newBudget(t, 1024, 4096, spill)
		s, err := b.Buffer(0, 1<<30, false)
		if err != nil {
			t.Fatal(err)
		}
		r := bytes.NewReader(src)
		if _, err := s.Fill(r, 1<<30); !errors.Is(err, ErrNoRoom) {
			t.Fatalf("spill %d: err %v", spill, err)
		}
		got, err := io.ReadAll(io.MultiReader(s.Open(), r))
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("spill %d: held part + rest = %d bytes, want the %d of the source intact", spill, len(got), len(src))
		}
		s.Free()
	}
}

// TestReusedMemoryShowsOnlyItsBody: a body whose memory served a larger
// body before shows its own bytes only (length and content), holds a whole
// class of the budget while alive and none after Free, and a reader's
// Unread is what it has not read yet.
func TestReusedMemoryShowsOnlyItsBody(t *testing.T) {
	b := newBudget(t, 1<<20, 64<<20, 0)
	first := bytes.Repeat([]byte("A"), 100<<10)
	second := bytes.Repeat([]byte("b"), 70<<10)
	for i, body := range [][]byte{first, second, first[:5], second} {
		s, err := b.Buffer(int64(len(body)), 1<<20, false)
		if err != nil {
			t.Fatal(err)
		}
		s.ReuseMemory()
		if complete, err := s.Fill(bytes.NewReader(body), 1<<20); err != nil || !complete {
			t.Fatalf("body %d: Fill: %v %v", i, complete, err)
		}
		got, inMemory := s.Bytes()
		if !inMemory || !bytes.Equal(got, body) {
			t.Fatalf("body %d: Bytes() = %d bytes (in memory %v), want its own %d", i, len(got), inMemory, len(body))
		}
		if held := b.mem.Load(); len(body) > 32<<10 && held != int64(cap(got)) || cap(got) < len(body) {
			t.Errorf("body %d: budget holds %d, capacity %d", i, held, cap(got))
		}
		r := s.Open()
		if _, err := io.ReadFull(r, make([]byte, 3)); err != nil {
			t.Fatal(err)
		}
		if rest, ok := r.Unread(); !ok || !bytes.Equal(rest, body[3:]) {
			t.Fatalf("body %d: Unread = %d bytes (%v), want the %d after the 3 read", i, len(rest), ok, len(body)-3)
		}
		r.Skip(len(body) - 3)
		if rest, _ := r.Unread(); len(rest) != 0 {
			t.Fatalf("body %d: %d bytes unread after Skip", i, len(rest))
		}
		s.Free()
		if held := b.mem.Load(); held != 0 {
			t.Fatalf("body %d: budget holds %d after Free", i, held)
		}
	}
}

// TestSpilledBodyHasNoUnread: a spilled body is read, not handed over.
func TestSpilledBodyHasNoUnread(t *testing.T) {
	b := newBudget(t, 1<<10, 1<<20, 1<<20)
	s, err := b.Buffer(0, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Free()
	if _, err := s.Fill(bytes.NewReader(make([]byte, 4<<10)), 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Open().Unread(); ok {
		t.Error("Unread of a spilled body reported in-memory bytes")
	}
}
