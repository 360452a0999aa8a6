// Package syslogtest gives tests a real syslog collector: a throwaway
// rsyslogd (Debian packages rsyslog and rsyslog-gnutls) listening on a free
// loopback TCP port and a TLS port (gtls driver, with a CA and certificate
// generated here), writing every message it receives to a file as JSON with
// the RFC 5424 fields parsed by rsyslog itself. A test without rsyslogd
// skips loudly, unless RAMPART_REQUIRE_SERVICES=1 (CI), where it fails.
package syslogtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ServerName is the name in the collector's TLS certificate.
const ServerName = "syslog.test"

// Rsyslog is a running rsyslogd private to one test.
type Rsyslog struct {
	TCPAddr string // host:port of the plain TCP input
	TLSAddr string // host:port of the TLS input (certificate for ServerName)
	CAFile  string // PEM of the CA that signed the TLS certificate

	dir, bin, out string
	mu            sync.Mutex
	cmd           *exec.Cmd
}

// Message is one received message, as rsyslog parsed it.
type Message struct {
	Facility  string `json:"facility"` // numeric, as text
	Severity  string `json:"severity"`
	Version   string `json:"version"`
	Timestamp string `json:"timestamp"`
	Hostname  string `json:"hostname"`
	AppName   string `json:"app_name"`
	ProcID    string `json:"procid"`
	MsgID     string `json:"msgid"`
	SD        string `json:"sd"`
	Msg       string `json:"msg"`
}

// Start starts rsyslogd for t, killed when t ends.
func Start(t testing.TB) *Rsyslog {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/rsyslogd", "/sbin/rsyslogd"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		unavailable(t, "rsyslogd is not installed")
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
			unavailable(t, "rsyslog's TLS driver is not installed (rsyslog-gnutls)")
		}
	}
	dir := t.TempDir()
	r := &Rsyslog{dir: dir, bin: bin, out: filepath.Join(dir, "messages.jsonl"), CAFile: filepath.Join(dir, "ca.pem")}
	if err := writeCerts(dir); err != nil {
		t.Fatal(err)
	}
	r.TCPAddr, r.TLSAddr = "127.0.0.1:"+strconv.Itoa(freePort(t)), "127.0.0.1:"+strconv.Itoa(freePort(t))
	if err := os.WriteFile(filepath.Join(dir, "rsyslog.conf"), []byte(r.conf()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.start(); err != nil {
		unavailable(t, err.Error())
	}
	t.Cleanup(r.Stop)
	return r
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" {
		t.Fatalf("rsyslog is required (RAMPART_REQUIRE_SERVICES=1) but unavailable: %s", why)
	}
	t.Skipf("SKIPPED: no rsyslog for this test (%s); install rsyslog and rsyslog-gnutls", why)
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// conf is rsyslog's configuration: two imtcp inputs, octet-counted framing
// (on by default), and one JSON line per message with the RFC 5424 fields.
func (r *Rsyslog) conf() string {
	_, tcpPort, _ := net.SplitHostPort(r.TCPAddr)
	_, tlsPort, _ := net.SplitHostPort(r.TLSAddr)
	return fmt.Sprintf(`global(workDirectory=%[1]q maxMessageSize="64k"
  DefaultNetstreamDriverCAFile=%[2]q
  DefaultNetstreamDriverCertFile=%[3]q
  DefaultNetstreamDriverKeyFile=%[4]q)
module(load="imtcp")
template(name="fields" type="list" option.jsonf="on") {
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="collect") {
  action(type="omfile" file=%[5]q template="fields")
}
input(type="imtcp" address="127.0.0.1" port=%[6]q ruleset="collect")
input(type="imtcp" address="127.0.0.1" port=%[7]q ruleset="collect"
  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
`, r.dir, r.CAFile, filepath.Join(r.dir, "cert.pem"), filepath.Join(r.dir, "key.pem"), r.out, tcpPort, tlsPort)
}

func (r *Rsyslog) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return nil
	}
	pid := filepath.Join(r.dir, "rsyslogd.pid")
	_ = os.Remove(pid) // a killed daemon leaves it behind
	cmd := exec.Command(r.bin, "-n", "-f", filepath.Join(r.dir, "rsyslog.conf"), "-i", pid)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting rsyslogd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if listening(r.TCPAddr) && listening(r.TLSAddr) {
			r.cmd = cmd
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("rsyslogd exited at start: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return errors.New("rsyslogd did not listen within 10s")
		}
		time.Sleep(20 * time.Millisecond) // polling a process we started; no other signal exists
	}
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Stop kills rsyslogd (an outage: its connections are cut) and returns
// once both ports refuse connections.
func (r *Rsyslog) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	r.cmd = nil
	for i := 0; i < 500 && (listening(r.TCPAddr) || listening(r.TLSAddr)); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart starts rsyslogd again on the same ports; messages received before
// stay in the file.
func (r *Rsyslog) Restart(t testing.TB) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatalf("restarting rsyslogd: %v", err)
	}
}

// Messages returns every message received so far.
func (r *Rsyslog) Messages(t testing.TB) []Message {
	t.Helper()
	f, err := os.Open(r.out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Message
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("rsyslog wrote %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// WaitFor polls the received messages until match accepts one (returned)
// or 10 s pass.
func (r *Rsyslog) WaitFor(t testing.TB, what string, match func(Message) bool) Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range r.Messages(t) {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslog did not receive %s within 10s; got %d messages", what, len(r.Messages(t)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeCerts writes ca.pem, and cert.pem/key.pem for ServerName and
// 127.0.0.1 signed by it.
func writeCerts(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "syslogtest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ServerName},
		DNSNames: []string{ServerName}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	for name, block := range map[string]*pem.Block{"ca.pem": {Type: "CERTIFICATE", Bytes: caDER},
		"cert.pem": {Type: "CERTIFICATE", Bytes: der}, "key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
	}
	return nil
}
