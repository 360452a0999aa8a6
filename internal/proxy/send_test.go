//go:build unix

package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/loopback"
)

// tcpPair returns both ends of a loopback TCP connection, the first as a
// pooled upstream connection with a sender.
func tcpPair(t *testing.T) (*pconn, net.Conn) {
	t.Helper()
	c, peer := loopback.Pair(t)
	pc := newPconn(c, c, nil)
	if pc.send == nil {
		t.Fatal("a plain TCP connection has no sender")
	}
	return pc, peer
}

// sending prepares pc's patience to send req on its first Read.
func sending(pc *pconn, req []byte, probe bool) *patience {
	p := &patience{ctx: context.Background(), pc: pc, final: time.Now().Add(10 * time.Second)}
	_ = pc.conn.SetDeadline(p.first(time.Now()))
	pc.send.probe, pc.send.pending = probe, req
	p.send = pc.send
	return p
}

// nothingArrives fails if the peer receives a byte within a short wait.
func nothingArrives(t *testing.T, peer net.Conn) {
	t.Helper()
	_ = peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := peer.Read(make([]byte, 1)); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the peer received something (%d bytes, %v): the request was sent", n, err)
	}
}

// The sender's probe runs before the request goes out: bytes already
// waiting on a pooled connection (response queue poisoning) mean the
// request is not sent on it at all.
func TestSenderProbeRefusesADirtyConnectionBeforeSending(t *testing.T) {
	pc, peer := tcpPair(t)
	if _, err := io.WriteString(peer, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // on loopback the bytes are queued by now
	p := sending(pc, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), true)
	if _, err := p.Read(make([]byte, 64)); err != errProbe {
		t.Fatalf("read: %v, want errProbe", err)
	}
	nothingArrives(t, peer)
}

// A peer that closed its side fails the probe too (the upstream's idle
// timeout): nothing is sent, so even a POST can go to another connection.
func TestSenderProbeRefusesAClosedConnection(t *testing.T) {
	pc, peer := tcpPair(t)
	peer.(*net.TCPConn).CloseWrite()
	time.Sleep(20 * time.Millisecond)
	p := sending(pc, []byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), true)
	if _, err := p.Read(make([]byte, 64)); err != errProbe {
		t.Fatalf("read: %v, want errProbe", err)
	}
	nothingArrives(t, peer)
}

// A request the socket cannot take at once is finished through conn.Write,
// and the answer is still read.
func TestSenderShortWriteFinishesThroughConn(t *testing.T) {
	pc, peer := tcpPair(t)
	_ = pc.conn.(*net.TCPConn).SetWriteBuffer(4096)
	req := bytes.Repeat([]byte("x"), 4<<20)
	got := make(chan int, 1)
	go func() {
		time.Sleep(50 * time.Millisecond) // let the send buffer fill
		n, _ := io.ReadFull(peer, make([]byte, len(req)))
		got <- n
		_, _ = io.WriteString(peer, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}()
	p := sending(pc, req, true)
	resp, err := http.ReadResponse(bufio.NewReader(p), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if n := <-got; n != len(req) || string(body) != "ok" {
		t.Fatalf("peer got %d of %d bytes; answer %q", n, len(req), body)
	}
	if !pc.send.short {
		t.Fatal("the socket took the whole request at once: the short-write path was not exercised")
	}
}

// A deadline that passed before the round began (the poller refuses to
// wait) leaves the request unsent and pending for the next slice.
func TestSenderExpiredDeadlineSendsNothing(t *testing.T) {
	pc, peer := tcpPair(t)
	p := sending(pc, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), true)
	_ = pc.conn.SetDeadline(aLongTimeAgo)
	if _, err := p.sendAndRead(p.send, make([]byte, 64)); !isTimeout(err) {
		t.Fatalf("read: %v, want a timeout", err)
	}
	if p.send == nil || len(pc.send.pending) == 0 {
		t.Fatal("the request is no longer pending")
	}
	nothingArrives(t, peer)
}
