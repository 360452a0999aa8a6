// Package sockio reads and writes sockets without the Go scheduler's
// system-call handoff.
//
// Go runs an ordinary system call (syscall.Read, what net.Conn uses) between
// entersyscall and exitsyscall: the goroutine's P is marked as in a system
// call, and the runtime's monitor thread (sysmon) takes it away and starts
// another thread on it when the call lasts past its 20 µs tick, and is
// woken from its sleep to watch. For a read or write on a non-blocking
// socket that is wasted work: the call never waits, yet on a busy loopback
// a write that runs the receiver's TCP path takes 20-40 µs, so under load
// the P moved between threads and sysmon kept waking, each a context
// switch on the proxy's one core (measured: 0.59 switches per request
// against nginx's 0.33; 11% of the gateway's CPU per request). The calls
// here are raw system calls (syscall.RawSyscall): the goroutine keeps its
// P through the call, as nginx's worker keeps its core, and waits for
// readiness on Go's netpoller exactly as net.Conn does (through the
// descriptor's syscall.RawConn, so deadlines and Close behave the same).
//
// Only non-blocking descriptors may be used: a raw call that waited would
// hold its P (and a stop-the-world collection) for as long. net's sockets,
// and descriptors duplicated from them, are non-blocking.
//
// Race-detector builds use the ordinary calls, which tell the detector
// that a read follows the write it reads.
package sockio
