//go:build linux

package h1

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-gw/rampart/internal/sockio"
)

// Parking. A keep-alive connection that waited Server.ParkAfter for its
// next request without a byte arriving is parked: it gives up its
// net.Conn, keeping only a duplicate of its file descriptor (and its
// addresses), which waits in
// an epoll set of the server's (EPOLLIN|EPOLLRDHUP, one-shot); what it
// needs only while served (its context, parser, scratch) goes back to a
// pool, and its goroutine ends. Closing the net.Conn gives back net's
// netFD and socket addresses and the runtime's poll descriptor (which the
// runtime never frees, only reuses: a burst of connections that all kept
// theirs would keep ~300 bytes each for good). A parked connection then
// costs its conn (~100 bytes), its map entries, and the kernel's socket.
//
// One goroutine serves the epoll set, without holding an OS thread: the
// epoll descriptor is non-blocking and wrapped in an os.File, so Go's own
// netpoller says when it is readable, and epoll_wait never blocks. When a
// parked connection has bytes (or its peer closed or failed), a new
// goroutine takes its descriptor out of the set, makes a net.Conn of it
// again (fdConn) and resumes serving it. Parking and resuming cost 4 and 3
// system calls, once per wait longer than ParkAfter.
//
// A parked connection keeps its idle (or, before its first request, header)
// deadline: parked connections are kept in the order they began waiting,
// in one list per kind (their timeouts are the same within a kind), and a
// timer closes those whose deadline passed, as an idle connection is
// closed: without a response.
//
// Who takes a connection out of stateParked (compare-and-swap) owns it: the
// poller waking it, the timer expiring it, or Shutdown, Close, MaxConns
// and EMFILE closing it (closing the descriptor drops it from the epoll
// set: it is the socket's only one then). Each arming carries a token that
// is never reused, looked up in a map: an event that was already on its
// way for a connection no longer parked there is ignored.
//
// Only plain TCP connections (*sockio.Conn, *net.TCPConn) are parked. TLS
// connections are not: a *tls.Conn may hold records it has read but not
// yet returned, which epoll cannot see, and its state would have to be
// kept anyway. Other net.Conn wrappers may buffer too.

// parking is the Server's parking state.
type parking struct {
	once sync.Once
	p    atomic.Pointer[poller]
}

// poller serves one Server's parked connections.
type poller struct {
	srv  *Server
	epfd int
	file *os.File        // epfd, for the netpoller to wake run
	rc   syscall.RawConn // file's
	evs  []unix.EpollEvent

	mu     sync.Mutex
	closed bool
	conns  map[uint64]*conn // by token
	nextID uint64
	lists  [2]parkList // by kind: keep-alive, first request
	timer  *time.Timer // expires the fronts of lists
	timeAt int64       // when timer fires (unix nanos); 0: stopped

	// Since the start, by kind, for tests: connections parked, woken, and
	// closed by their deadline while parked.
	parks, wakes, expired [2]int64
}

// parkList is an intrusive list of parked connections, in the order they
// began waiting, so in deadline order.
type parkList struct{ head, tail *conn }

const (
	kindKeepAlive = 0
	kindFirst     = 1
)

func (c *conn) resumable() bool {
	switch c.rwc.(type) {
	case *sockio.Conn, *net.TCPConn, *fdConn:
		return true
	}
	return false
}

func (s *Server) poller() *poller {
	s.park.once.Do(func() {
		p, err := newPoller(s)
		if err != nil {
			s.logger().Warn("h1: idle connections cannot be parked", "error", err.Error())
			return
		}
		s.park.p.Store(p)
	})
	return s.park.p.Load()
}

func newPoller(s *Server) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	f := os.NewFile(uintptr(epfd), "h1-park")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	p := &poller{srv: s, epfd: epfd, file: f, rc: rc, evs: make([]unix.EpollEvent, 128), conns: make(map[uint64]*conn)}
	p.timer = time.AfterFunc(time.Hour, p.expire)
	p.timer.Stop()
	go p.run()
	return p, nil
}

// timeout is the deadline of a parked connection of the kind, after it
// began waiting; 0 for none.
func (p *poller) timeout(kind int) time.Duration {
	if kind == kindFirst {
		return p.srv.headerTimeout()
	}
	return p.srv.idleTimeout()
}

// park parks c, which has waited since now without a byte arriving, and
// reports whether it did: then c is no longer the caller's, which must not
// touch it. On false the caller goes on as if the wait had timed out
// normally (a closer may have closed c meanwhile).
func (c *conn) park(now time.Time, first bool) bool {
	p := c.srv.poller()
	if p == nil {
		return false
	}
	if !c.resumable() {
		return false
	}
	rc, err := c.rwc.(syscall.Conn).SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return false
	}
	// s.mu too: closers read rwc under it (Server.Close), and it goes nil
	// here.
	s := c.srv
	s.mu.Lock()
	p.mu.Lock()
	if p.closed || !c.state.CompareAndSwap(stateIdle, stateParked) {
		p.mu.Unlock()
		s.mu.Unlock()
		_ = unix.Close(fd)
		return false
	}
	p.nextID++
	id := p.nextID
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		c.state.Store(stateIdle) // no closer ran: they take s.mu
		p.mu.Unlock()
		s.mu.Unlock()
		_ = unix.Close(fd)
		s.logger().Debug("h1: parking a connection failed", "error", err.Error())
		return false
	}
	old := c.rwc
	c.parkLocal, c.parkRemote = addrPorts(old)
	c.rwc, c.parkFD = nil, fd
	c.parkID, c.parkFirst = id, first
	p.conns[id] = c
	kind := kindKeepAlive
	if first {
		kind = kindFirst
	}
	p.parks[kind]++
	if d := p.timeout(kind); d > 0 {
		p.lists[kind].insert(c)
		if at := now.UnixNano() + int64(d); p.timeAt == 0 || at < p.timeAt {
			p.armLocked(at)
		}
	}
	// Nothing of the work survives: the poller may hand c to another
	// goroutine as soon as the lock is released.
	c.releaseWork()
	p.mu.Unlock()
	s.mu.Unlock()
	_ = old.Close() // the socket stays open: fd is a duplicate
	return true
}

// attach gives c, just woken from parking, a net.Conn again (made of its
// parked descriptor), and reports whether it could; if not, c is closed
// and forgotten.
func (c *conn) attach() bool {
	s := c.srv
	fd := c.parkFD
	c.parkFD = -1
	if p := s.park.p.Load(); p != nil {
		// Out of the set while fd is still open (closing it would leave
		// the registration behind: the new descriptor keeps the socket).
		p.mu.Lock()
		if !p.closed {
			_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		}
		p.mu.Unlock()
	}
	nc, err := newFDConn(fd, c.parkLocal, c.parkRemote)
	if err != nil {
		s.logger().Debug("h1: resuming a parked connection failed", "error", err.Error())
		c.state.Store(stateClosed)
		s.forget(c)
		return false
	}
	s.mu.Lock()
	c.rwc = nc
	s.mu.Unlock()
	return true
}

// insert adds c in the order of idleSince, from the back (where it almost
// always goes).
func (l *parkList) insert(c *conn) {
	since := c.idleSince.Load()
	at := l.tail
	for at != nil && at.idleSince.Load() > since {
		at = at.parkPrev
	}
	// c goes after at (at the front when at is nil).
	c.parkPrev = at
	if at == nil {
		c.parkNext = l.head
		l.head = c
	} else {
		c.parkNext = at.parkNext
		at.parkNext = c
	}
	if c.parkNext == nil {
		l.tail = c
	} else {
		c.parkNext.parkPrev = c
	}
}

func (l *parkList) remove(c *conn) {
	if c.parkPrev == nil && l.head != c {
		return // not listed (no timeout)
	}
	if c.parkPrev == nil {
		l.head = c.parkNext
	} else {
		c.parkPrev.parkNext = c.parkNext
	}
	if c.parkNext == nil {
		l.tail = c.parkPrev
	} else {
		c.parkNext.parkPrev = c.parkPrev
	}
	c.parkPrev, c.parkNext = nil, nil
}

// removeLocked takes c out of the parked set (its descriptor stays in the
// epoll set until the caller deletes or closes it).
func (p *poller) removeLocked(c *conn) {
	if c.parkID != 0 {
		delete(p.conns, c.parkID)
		c.parkID = 0
		kind := kindKeepAlive
		if c.parkFirst {
			kind = kindFirst
		}
		p.lists[kind].remove(c)
	}
}

func (p *poller) armLocked(at int64) {
	p.timeAt = at
	p.timer.Reset(time.Duration(at - time.Now().UnixNano()))
}

// run wakes parked connections that became readable, until the poller is
// closed.
func (p *poller) run() {
	var woken []*conn
	for {
		n := 0
		var werr error
		err := p.rc.Read(func(fd uintptr) bool {
			k, err := unix.EpollWait(int(fd), p.evs, 0)
			if err != nil {
				werr = err
				return err != unix.EINTR // EINTR: poll again at once
			}
			n = k
			return k > 0 // none: wait until the epoll descriptor is readable
		})
		if err != nil {
			return // closed
		}
		if werr != nil && werr != unix.EINTR {
			p.srv.logger().Error("h1: epoll_wait failed; parked connections are no longer woken", "error", werr.Error())
			return
		}
		p.mu.Lock()
		for _, ev := range p.evs[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			c := p.conns[id]
			if c == nil || !c.state.CompareAndSwap(stateParked, stateActive) {
				continue // stale, or a closer has it
			}
			if c.parkFirst {
				p.wakes[kindFirst]++
			} else {
				p.wakes[kindKeepAlive]++
			}
			p.removeLocked(c) // one-shot: disarmed; attach deletes it
			woken = append(woken, c)
		}
		p.mu.Unlock()
		for i, c := range woken {
			go c.resume()
			woken[i] = nil
		}
		woken = woken[:0]
	}
}

// expire closes the parked connections whose deadline passed.
func (p *poller) expire() {
	var dead []*conn
	var fds []int
	now := time.Now().UnixNano()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	var next int64
	for kind := range p.lists {
		d := int64(p.timeout(kind))
		c := p.lists[kind].head
		for c != nil && c.idleSince.Load()+d <= now {
			nc := c.parkNext
			if c.state.CompareAndSwap(stateParked, stateClosed) {
				p.removeLocked(c)
				p.expired[kind]++
				dead = append(dead, c)
				fds = append(fds, c.parkFD)
			}
			c = nc
		}
		if c != nil && (next == 0 || c.idleSince.Load()+d < next) {
			next = c.idleSince.Load() + d
		}
	}
	if next != 0 {
		p.armLocked(next)
	} else {
		p.timeAt = 0
	}
	p.mu.Unlock()
	for i, c := range dead {
		_ = unix.Close(fds[i])
		p.srv.forget(c)
	}
}

// dropParked closes c, a parked connection whose state the caller moved to
// stateClosed.
func (s *Server) dropParked(c *conn) {
	p := s.park.p.Load()
	p.mu.Lock()
	p.removeLocked(c)
	fd := c.parkFD
	p.mu.Unlock()
	_ = unix.Close(fd)
}

// stopParking closes the poller (for Close and Shutdown): the connections
// still parked are closed, and no connection is parked from now on. The
// caller holds s.mu and forgets them itself.
func (s *Server) stopParkingLocked() {
	s.park.once.Do(func() {}) // none is started from now on
	p := s.park.p.Load()
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.timer.Stop()
	var left []*conn
	for _, c := range p.conns {
		if c.state.CompareAndSwap(stateParked, stateClosed) {
			left = append(left, c)
		}
	}
	for _, c := range left {
		p.removeLocked(c)
	}
	p.closed = true
	p.mu.Unlock()
	for _, c := range left {
		_ = unix.Close(c.parkFD)
		delete(s.conns, c)
	}
	_ = p.file.Close() // ends run
}

// parked reports how many connections are parked.
func (s *Server) parked() int {
	p := s.park.p.Load()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}
