package ipfilter

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxFileBytes bounds what one list file may hold (about two million
// entries): the file is read whole, and must not take the memory of the
// gateway.
const maxFileBytes = 64 << 20

// FilesOptions configure Files.
type FilesOptions struct {
	// Poll is how often each file's size and modification time are
	// checked. 0 means 2s.
	Poll time.Duration
	// Logger receives reloads and failed reloads. nil means slog.Default().
	Logger *slog.Logger
	// Failed, when set, is called with a file's path each time a change of
	// it could not be loaded (for rampart_ip_list_reload_errors_total).
	Failed func(path string)
}

// Files are the list files of one compiled config: each path is read once,
// whichever filters name it, and one goroutine re-reads the changed ones
// after Start until Close.
type Files struct {
	opts   FilesOptions
	byPath map[string]*file
	order  []*file
	stop   chan struct{}
	done   chan struct{}
	start  sync.Once
	close  sync.Once
}

// NewFiles returns an empty set of list files.
func NewFiles(opts FilesOptions) *Files {
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Files{opts: opts, byPath: map[string]*file{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// file is one list file. list is what requests read; the rest belongs to
// the polling goroutine (and to open, before Start).
type file struct {
	path    string
	list    atomic.Pointer[List]
	size    int64 // -1 while the file cannot be stat'ed
	mod     time.Time
	sum     [sha256.Size]byte // of the content last loaded or refused
	pending bool              // size or mtime changed at the last poll
}

// open reads path the first time a filter names it. Not safe for
// concurrent use, nor after Start.
func (fs *Files) open(path string) (*file, []error) {
	if f := fs.byPath[path]; f != nil {
		return f, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, []error{unreadable(err)}
	}
	data, err := readFile(path)
	if err != nil {
		return nil, []error{unreadable(err)}
	}
	ps, errs := ParseFile(path, data)
	if len(errs) > 0 {
		return nil, errs
	}
	f := &file{path: path, size: fi.Size(), mod: fi.ModTime(), sum: sha256.Sum256(data)}
	f.list.Store(NewList(ps))
	fs.byPath[path] = f
	fs.order = append(fs.order, f)
	return f, nil
}

// unreadable words an error reading a list file without repeating the path
// (the message is reported at the config key that names it).
func unreadable(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot be read: %w", err)
}

func readFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileBytes+1))
	if err == nil && len(data) > maxFileBytes {
		err = fmt.Errorf("larger than %d MiB", maxFileBytes>>20)
	}
	return data, err
}

// Start polls the files opened so far, in one goroutine, until Close.
// Without files it does nothing.
func (fs *Files) Start() {
	fs.start.Do(func() {
		if len(fs.order) == 0 {
			close(fs.done)
			return
		}
		go fs.run()
	})
}

// Close stops polling and waits for the goroutine to end. Lists stay
// readable.
func (fs *Files) Close() {
	fs.close.Do(func() {
		fs.start.Do(func() { close(fs.done) }) // never started: nothing to wait for
		close(fs.stop)
		<-fs.done
	})
}

func (fs *Files) run() {
	defer close(fs.done)
	t := time.NewTicker(fs.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-fs.stop:
			return
		case <-t.C:
		}
		for _, f := range fs.order {
			fs.poll(f)
		}
	}
}

// poll re-reads f once a change of its size or mtime has held for one
// interval (editors and ConfigMap updates write in steps; a half-written
// deny list must not briefly replace the whole one). Content identical to
// the last seen is not loaded again. Each failure is logged and counted
// once per change; the previous list stays.
func (fs *Files) poll(f *file) {
	fi, err := os.Stat(f.path)
	if err != nil {
		if f.size >= 0 { // newly gone
			f.size, f.pending = -1, false
			fs.failed(f, unreadable(err))
		}
		return
	}
	if fi.Size() != f.size || !fi.ModTime().Equal(f.mod) {
		f.size, f.mod, f.pending = fi.Size(), fi.ModTime(), true
		return
	}
	if !f.pending {
		return
	}
	f.pending = false
	data, err := readFile(f.path)
	if err != nil {
		fs.failed(f, unreadable(err))
		return
	}
	sum := sha256.Sum256(data)
	if sum == f.sum {
		return
	}
	f.sum = sum
	ps, errs := ParseFile(f.path, data)
	if len(errs) > 0 {
		fs.failed(f, lineErrors(errs))
		return
	}
	l := NewList(ps)
	f.list.Store(l)
	fs.opts.Logger.Info("ip list reloaded", "list", f.path, "entries", l.Len(), "ranges", l.Ranges())
}

func (fs *Files) failed(f *file, err error) {
	fs.opts.Logger.Error("ip list not reloaded; keeping the previous list", "list", f.path, "error", err.Error())
	if fs.opts.Failed != nil {
		fs.opts.Failed(f.path)
	}
}

// lineErrors sums up a file's bad lines for one log line: the first few,
// and how many there are.
func lineErrors(errs []error) error {
	const shown = 5
	msgs := make([]string, 0, shown)
	for _, err := range errs[:min(len(errs), shown)] {
		msgs = append(msgs, err.Error())
	}
	if len(errs) > shown {
		msgs = append(msgs, fmt.Sprintf("(%d problems in all)", len(errs)))
	}
	return errors.New(strings.Join(msgs, "; "))
}
