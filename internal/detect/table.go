package detect

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Subject kinds.
const (
	KindClient    = "client_ip"
	KindPrincipal = "principal"
	KindUsername  = "username"
)

// principalPrefix starts the id of a principal block.
const principalPrefix = "principal:"

// Block refuses a client address (or prefix) or a principal until Expires.
type Block struct {
	// Kind is client_ip or principal.
	Kind string `json:"kind"`
	// Subject is an address, a CIDR prefix, or a principal as
	// "authenticator:subject" ("*:subject", or a subject without a colon:
	// any authenticator).
	Subject string `json:"subject"`
	// Detector is the detector that blocked, or "operator".
	Detector string    `json:"detector"`
	Reason   string    `json:"reason,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	// Source is the replica that detected it, or the operator's note.
	Source string `json:"source"`
}

// ID names the block in the admin API: the address or prefix, or
// "principal:" and the principal.
func (b Block) ID() string {
	if b.Kind == KindPrincipal {
		return principalPrefix + b.Subject
	}
	return b.Subject
}

// ParseSubject reads an admin API subject: "principal:ID", an address or a
// CIDR prefix. It returns the canonical block kind and subject.
func ParseSubject(s string) (kind, subject string, err error) {
	if p, ok := strings.CutPrefix(s, principalPrefix); ok {
		if p == "" || len(p) > 512 || strings.ContainsAny(p, "\r\n") {
			return "", "", errors.New("a principal must be 1 to 512 characters on one line")
		}
		return KindPrincipal, p, nil
	}
	pfx, err := parsePrefix(s)
	if err != nil {
		return "", "", fmt.Errorf("%q is not an address, a CIDR prefix or principal:ID", truncate(s, 64))
	}
	return KindClient, subjectText(pfx), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

type principalKey struct{ auth, subject string }

// snapshot is an immutable view of the blocks, read without locks.
type snapshot struct {
	exact      map[netip.Prefix]*Block // single addresses and IPv6 /64s
	prefixes   []*Block                // other CIDR prefixes
	prefixOf   []netip.Prefix          // prefixes[i]'s prefix
	principals map[principalKey]*Block
}

// Table holds the blocks. Lookups (Client, Principal) read an atomic
// snapshot: no lock, no allocation. Changes rebuild the snapshot, and with
// Redis are shared with every replica (sync.go).
type Table struct {
	mu     sync.Mutex
	blocks map[string]Block // by ID
	snap   atomic.Pointer[snapshot]
	now    func() time.Time
	shared *shared // nil: memory only
}

// NewTable returns a memory table.
func NewTable() *Table {
	t := &Table{blocks: map[string]Block{}, now: time.Now}
	t.snap.Store(&snapshot{})
	return t
}

// Client returns the block on a, if any is in force at now.
func (t *Table) Client(a netip.Addr, now time.Time) (*Block, bool) {
	s := t.snap.Load()
	if len(s.exact) == 0 && len(s.prefixes) == 0 {
		return nil, false
	}
	a = a.Unmap()
	if b := s.exact[netip.PrefixFrom(a, a.BitLen())]; b != nil && now.Before(b.Expires) {
		return b, true
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		if b := s.exact[p]; b != nil && now.Before(b.Expires) {
			return b, true
		}
	}
	for i, p := range s.prefixOf {
		if b := s.prefixes[i]; p.Contains(a) && now.Before(b.Expires) {
			return b, true
		}
	}
	return nil, false
}

// Principal returns the block on the principal, if any is in force at now.
func (t *Table) Principal(auth, subject string, now time.Time) (*Block, bool) {
	s := t.snap.Load()
	if len(s.principals) == 0 {
		return nil, false
	}
	b := s.principals[principalKey{auth, subject}]
	if b == nil {
		b = s.principals[principalKey{"", subject}]
	}
	if b != nil && now.Before(b.Expires) {
		return b, true
	}
	return nil, false
}

// List returns the blocks in force, newest first.
func (t *Table) List() []Block {
	now := t.now()
	t.mu.Lock()
	out := make([]Block, 0, len(t.blocks))
	for _, b := range t.blocks {
		if now.Before(b.Expires) {
			out = append(out, b)
		}
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Active counts the blocks in force by detector (for the gauge).
func (t *Table) Active() map[string]int {
	out := map[string]int{}
	for _, b := range t.List() {
		out[b.Detector]++
	}
	return out
}

// Add puts b in force here at once and, with Redis, on every replica
// (retried until Redis takes it; the local block holds meanwhile).
func (t *Table) Add(b Block) error {
	kind, subject, err := ParseSubjectKind(b.Kind, b.Subject)
	if err != nil {
		return err
	}
	b.Kind, b.Subject = kind, subject
	if !b.Expires.After(b.Created) {
		return errors.New("a block must expire after it is created")
	}
	if t.apply(b) && t.shared != nil {
		t.shared.add(b)
	}
	return nil
}

// ParseSubjectKind canonicalises a subject of a known kind.
func ParseSubjectKind(kind, subject string) (string, string, error) {
	if kind == KindPrincipal {
		return ParseSubject(principalPrefix + subject)
	}
	k, s, err := ParseSubject(subject)
	if err == nil && k != KindClient {
		err = errors.New("a client block needs an address or CIDR prefix")
	}
	return k, s, err
}

// Remove lifts the block with that ID here and on every replica; false when
// there was none.
func (t *Table) Remove(id string) (bool, error) {
	kind, subject, err := ParseSubject(id)
	if err != nil {
		return false, err
	}
	id = Block{Kind: kind, Subject: subject}.ID()
	found := t.unapply(id)
	if t.shared != nil {
		t.shared.remove(id)
	}
	return found, nil
}

// apply puts b in the local table; false when a longer block on the same
// subject stands (and stays).
func (t *Table) apply(b Block) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.blocks[b.ID()]; ok && old.Expires.After(b.Expires) && t.now().Before(old.Expires) {
		return false
	}
	t.blocks[b.ID()] = b
	t.rebuild()
	return true
}

func (t *Table) unapply(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.blocks[id]
	if ok {
		delete(t.blocks, id)
		t.rebuild()
	}
	return ok
}

// rebuild makes a new snapshot from t.blocks, dropping expired ones. t.mu
// is held.
func (t *Table) rebuild() {
	now := t.now()
	s := &snapshot{exact: map[netip.Prefix]*Block{}, principals: map[principalKey]*Block{}}
	for id, b := range t.blocks {
		if !now.Before(b.Expires) {
			delete(t.blocks, id)
			continue
		}
		b := b
		if b.Kind == KindPrincipal {
			auth, subject, ok := strings.Cut(b.Subject, ":")
			if !ok || auth == "*" {
				auth, subject = "", strings.TrimPrefix(b.Subject, "*:")
			}
			s.principals[principalKey{auth, subject}] = &b
			continue
		}
		p, err := parsePrefix(b.Subject)
		if err != nil {
			continue
		}
		if p.Bits() == p.Addr().BitLen() || p.Addr().Is6() && p.Bits() == 64 {
			s.exact[p] = &b
		} else {
			s.prefixes, s.prefixOf = append(s.prefixes, &b), append(s.prefixOf, p)
		}
	}
	t.snap.Store(s)
}

// expire drops blocks that ran out (called periodically).
func (t *Table) expire() {
	t.mu.Lock()
	t.rebuild()
	t.mu.Unlock()
}

// Close stops sharing (Redis); the table keeps answering from memory.
func (t *Table) Close() error {
	if t.shared != nil {
		return t.shared.close()
	}
	return nil
}

// Status reports whether blocks are shared: "memory", "up", or "down"
// with the error while Redis is unreachable (local blocks are enforced
// meanwhile, and writes are retried).
func (t *Table) Status() (string, error) {
	if t.shared == nil {
		return "memory", nil
	}
	return t.shared.status()
}
