package h2

import (
	"bytes"
	"errors"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2/hpack"
)

// Our own HPACK decoder for request header blocks (RFC 7541). x/net's
// hpack.Decoder allocates a string per literal and Huffman-decodes each; clients such as h2load send the bearer token as a never-indexed
// literal on every request, so most of that work repeats. This decoder
// keeps x/net's rules and error cases (the differential fuzz target
// FuzzHPACKDecode holds it to them) and adds:
//
//   - a per-connection cache of literals: when a literal's name and
//     encoded value equal those of the literal seen at the same position
//     of a previous block (or one still cached at another position), its
//     decoded strings are reused: no Huffman decoding, no allocation. It
//     is bounded: litSlots entries, litCacheBytes (or the header list
//     bound, if lower) in all;
//   - interned names (static table, common names) and canonical keys
//     carried with each field, so that the request's http.Header is built
//     without per-field lookups.

var (
	errHPACKEncoding  = errors.New("hpack: invalid encoding")
	errHPACKIndex     = errors.New("hpack: invalid index")
	errHPACKTruncated = errors.New("hpack: truncated header block")
	errHPACKSizeLate  = errors.New("hpack: dynamic table size update not at the beginning of a header block")
	errHPACKSizeLarge = errors.New("hpack: dynamic table size update too large")
	errHPACKVarint    = errors.New("hpack: varint integer overflow")
	errHPACKStrLen    = errors.New("hpack: string too long")
	errNeedMore       = errors.New("hpack: need more data") // internal: the field continues in the next fragment
)

const (
	// headerTableSize is our SETTINGS_HEADER_TABLE_SIZE: the default, never
	// advertised otherwise, so size updates may not go above it.
	headerTableSize = 4096
	// litSlots bounds the literal cache: fields past this position of a
	// block are not cached.
	litSlots = 32
	// litCacheBytes bounds the bytes the literal cache holds per
	// connection (encoded and decoded forms), together with the header list
	// bound: min(litCacheBytes, max header list size).
	litCacheBytes = 16 << 10
	// saveKeep: a larger buffer (an incomplete field, a Huffman-decoded
	// name) is dropped after its block, not kept for the connection's life.
	saveKeep = 4 << 10
)

// field is one decoded header field. canon is the canonical key of a
// regular field with a valid name; nameOK and valueOK say whether the
// name (for regular fields) and the value pass x/net's checks
// (validWireHeaderFieldName, httpguts.ValidHeaderFieldValue).
type field struct {
	name, canon, value string
	nameOK, valueOK    bool
}

func (f field) size() uint32 { return uint32(len(f.name) + len(f.value) + 32) }

// hpackDecoder decodes the header blocks of one connection, in order.
// Owned by the connection's reader goroutine.
type hpackDecoder struct {
	dyn        []field // the dynamic table, oldest first
	dynSize    uint32
	maxSize    uint32 // current bound of the dynamic table (size updates)
	allowedMax uint32 // bound of size updates (our SETTINGS_HEADER_TABLE_SIZE)
	maxStrLen  int    // longest string, encoded or decoded; 0 = no bound
	firstField bool   // at the start of a block (x/net's rule for size updates)
	emitting   bool   // false: fields are checked but not decoded unless indexed, nor passed on
	emit       func(field) bool
	canonical  func(string) string
	save       []byte // an incomplete field at the end of the previous fragment
	huff       bytes.Buffer

	// The literal cache, by position in the block, grown as positions are
	// used. Its memory is bounded: at most litSlots entries, and at most
	// litMax bytes in all.
	lits    []litEntry
	litLen  int
	litMax  int
	litNext int // position of the next literal field in the block
}

// litEntry is the literal last seen at one position of a block.
type litEntry struct {
	nameRaw  []byte // encoded name, when the name was a literal too
	nameHuff bool
	name     string
	canon    string
	nameOK   bool
	valRaw   []byte
	valHuff  bool
	value    string
	valueOK  bool
}

func (e *litEntry) bytes() int {
	return len(e.nameRaw) + len(e.name) + len(e.valRaw) + len(e.value)
}

// newHPACKDecoder: maxStrLen bounds every string (0: none); emit gets each
// field while d.emitting and says whether to keep emitting; canonical maps
// a valid lowercase name to its canonical key.
func newHPACKDecoder(maxStrLen int, emit func(field) bool, canonical func(string) string) *hpackDecoder {
	d := &hpackDecoder{maxSize: headerTableSize, allowedMax: headerTableSize, maxStrLen: maxStrLen,
		firstField: true, emitting: true, emit: emit, canonical: canonical, litMax: litCacheBytes}
	if maxStrLen > 0 && maxStrLen < d.litMax {
		d.litMax = maxStrLen
	}
	return d
}

// startBlock prepares for a new header block.
func (d *hpackDecoder) startBlock() {
	d.emitting = true
	d.litNext = 0
}

// write decodes one fragment of a header block; a field cut at its end is
// kept for the next fragment.
func (d *hpackDecoder) write(p []byte) error {
	if len(p) == 0 {
		return nil // as x/net: no re-parsing of a kept field for nothing
	}
	buf := p
	if len(d.save) > 0 {
		d.save = append(d.save, p...)
		buf = d.save
	}
	for len(buf) > 0 {
		rest, err := d.parseField(buf)
		if err == errNeedMore {
			const varIntOverhead = 8
			if d.maxStrLen != 0 && int64(len(buf)) > 2*(int64(d.maxStrLen)+varIntOverhead) {
				return errHPACKStrLen
			}
			d.save = append(d.save[:0], buf...) // buf may be a suffix of d.save: append copies with memmove
			return nil
		}
		d.firstField = false
		if err != nil {
			return err
		}
		buf = rest
	}
	d.save = d.save[:0]
	return nil
}

// close ends a header block: an incomplete field left is an error.
func (d *hpackDecoder) close() error {
	if cap(d.save) > saveKeep {
		defer func() { d.save = nil }()
	}
	if d.huff.Cap() > saveKeep {
		d.huff = bytes.Buffer{}
	}
	if len(d.save) > 0 {
		d.save = d.save[:0]
		return errHPACKTruncated
	}
	d.firstField = true
	return nil
}

// parseField decodes the field representation at the start of buf and
// returns the rest; errNeedMore when buf ends within it.
func (d *hpackDecoder) parseField(buf []byte) ([]byte, error) {
	b := buf[0]
	switch {
	case b&0x80 != 0: // indexed (RFC 7541 §6.1)
		idx, rest, err := readVarInt(7, buf)
		if err != nil {
			return buf, err
		}
		f, ok := d.at(idx)
		if !ok {
			return buf, errHPACKIndex
		}
		return rest, d.callEmit(f)
	case b&0xc0 == 0x40: // literal with incremental indexing (§6.2.1)
		return d.parseLiteral(buf, 6, true)
	case b&0xf0 == 0x00, b&0xf0 == 0x10: // literal without indexing, never indexed (§6.2.2, §6.2.3)
		return d.parseLiteral(buf, 4, false)
	case b&0xe0 == 0x20: // dynamic table size update (§6.3)
		// x/net's rule, kept as is: an update only at the start of a block,
		// or while the table is empty.
		if !d.firstField && d.dynSize > 0 {
			return buf, errHPACKSizeLate
		}
		size, rest, err := readVarInt(5, buf)
		if err != nil {
			return buf, err
		}
		if size > uint64(d.allowedMax) {
			return buf, errHPACKSizeLarge
		}
		d.maxSize = uint32(size)
		d.evict()
		return rest, nil
	}
	return buf, errHPACKEncoding
}

func (d *hpackDecoder) parseLiteral(buf []byte, n byte, indexed bool) ([]byte, error) {
	nameIdx, p, err := readVarInt(n, buf)
	if err != nil {
		return buf, err
	}
	var f field
	var nameRaw, valRaw []byte
	var nameHuff, valHuff bool
	if nameIdx > 0 {
		e, ok := d.at(nameIdx)
		if !ok {
			return buf, errHPACKIndex
		}
		f.name, f.canon, f.nameOK = e.name, e.canon, e.nameOK
	} else if nameRaw, nameHuff, p, err = d.readString(p); err != nil {
		return buf, err
	}
	if valRaw, valHuff, p, err = d.readString(p); err != nil {
		return buf, err
	}
	// As x/net: strings of fields that are neither passed on nor indexed
	// are not decoded.
	if d.emitting || indexed {
		if err := d.decodeLiteral(&f, nameIdx == 0, nameRaw, nameHuff, valRaw, valHuff); err != nil {
			return buf, err
		}
	}
	if indexed {
		d.add(f)
	}
	return p, d.callEmit(f)
}

// decodeLiteral fills f's literal parts: from the cache when a literal
// of the same name and encoded bytes was seen at this position of the
// previous block (or, failing that, at another), else decoded and
// remembered at this position.
func (d *hpackDecoder) decodeLiteral(f *field, literalName bool, nameRaw []byte, nameHuff bool, valRaw []byte, valHuff bool) error {
	slot := d.litNext
	d.litNext++
	if e := d.cached(slot, literalName, nameRaw, nameHuff, f.name, valRaw, valHuff); e != nil {
		if literalName {
			f.name, f.canon, f.nameOK = e.name, e.canon, e.nameOK
		}
		f.value, f.valueOK = e.value, e.valueOK
		return nil
	}
	if literalName {
		name, err := d.decodeName(nameRaw, nameHuff)
		if err != nil {
			return err
		}
		f.name, f.nameOK = name, validWireName(name)
		if f.nameOK {
			f.canon = d.canonical(name)
		}
	}
	var err error
	if f.value, err = d.decodeString(valRaw, valHuff); err != nil {
		return err
	}
	f.valueOK = httpguts.ValidHeaderFieldValue(f.value)
	if slot < litSlots {
		if slot >= len(d.lits) {
			d.lits = append(d.lits, make([]litEntry, slot+1-len(d.lits))...)
		}
		d.remember(&d.lits[slot], f, literalName, nameRaw, nameHuff, valRaw, valHuff)
	}
	return nil
}

// cached finds the cache entry of a literal: at its position first.
func (d *hpackDecoder) cached(slot int, literalName bool, nameRaw []byte, nameHuff bool, name string, valRaw []byte, valHuff bool) *litEntry {
	match := func(e *litEntry) bool {
		if e.valRaw == nil || e.valHuff != valHuff || len(e.valRaw) != len(valRaw) {
			return false
		}
		if literalName {
			if e.nameRaw == nil || e.nameHuff != nameHuff || !bytes.Equal(e.nameRaw, nameRaw) {
				return false
			}
		} else if e.nameRaw != nil || e.name != name {
			return false
		}
		return bytes.Equal(e.valRaw, valRaw)
	}
	if slot < len(d.lits) && match(&d.lits[slot]) {
		return &d.lits[slot]
	}
	for i := range d.lits {
		if i != slot && match(&d.lits[i]) {
			return &d.lits[i]
		}
	}
	return nil
}

// remember stores a literal in its cache slot, if the byte bound allows.
func (d *hpackDecoder) remember(e *litEntry, f *field, literalName bool, nameRaw []byte, nameHuff bool, valRaw []byte, valHuff bool) {
	d.litLen -= e.bytes()
	size := len(f.name) + len(valRaw) + len(f.value)
	if literalName {
		size += len(nameRaw)
	}
	if d.litLen+size > d.litMax {
		*e = litEntry{}
		return
	}
	e.name, e.canon, e.nameOK = f.name, f.canon, f.nameOK
	e.value, e.valueOK = f.value, f.valueOK
	e.valRaw, e.valHuff = append(e.valRaw[:0], valRaw...), valHuff
	if e.valRaw == nil {
		e.valRaw = []byte{} // non-nil: a value is cached (maybe empty)
	}
	if literalName {
		e.nameRaw, e.nameHuff = append(e.nameRaw[:0], nameRaw...), nameHuff
		if e.nameRaw == nil {
			e.nameRaw = []byte{}
		}
	} else {
		e.nameRaw = nil
	}
	d.litLen += e.bytes()
}

func (d *hpackDecoder) decodeName(raw []byte, huff bool) (string, error) {
	if huff {
		d.huff.Reset()
		if _, err := hpack.HuffmanDecode(&d.huff, raw); err != nil {
			return "", err
		}
		raw = d.huff.Bytes()
		if d.maxStrLen != 0 && len(raw) > d.maxStrLen {
			return "", errHPACKStrLen
		}
	}
	if s, ok := internedNames[string(raw)]; ok { // no allocation for the lookup
		return s, nil
	}
	return string(raw), nil
}

func (d *hpackDecoder) decodeString(raw []byte, huff bool) (string, error) {
	if !huff {
		return string(raw), nil
	}
	s, err := hpack.HuffmanDecodeToString(raw)
	if err != nil {
		return "", err
	}
	if d.maxStrLen != 0 && len(s) > d.maxStrLen {
		return "", errHPACKStrLen
	}
	return s, nil
}

func (d *hpackDecoder) callEmit(f field) error {
	if d.maxStrLen != 0 && (len(f.name) > d.maxStrLen || len(f.value) > d.maxStrLen) {
		return errHPACKStrLen
	}
	if d.emitting {
		d.emitting = d.emit(f)
	}
	return nil
}

// readString reads a string literal's header (RFC 7541 §5.2) and returns
// its encoded bytes.
func (d *hpackDecoder) readString(p []byte) (raw []byte, huff bool, rest []byte, err error) {
	if len(p) == 0 {
		return nil, false, p, errNeedMore
	}
	huff = p[0]&0x80 != 0
	n, p, err := readVarInt(7, p)
	if err != nil {
		return nil, false, p, err
	}
	if d.maxStrLen != 0 && n > uint64(d.maxStrLen) {
		return nil, false, nil, errHPACKStrLen
	}
	if uint64(len(p)) < n {
		return nil, false, p, errNeedMore
	}
	return p[:n], huff, p[n:], nil
}

// readVarInt reads an integer with an n-bit prefix (RFC 7541 §5.1), with
// x/net's bound on its length.
func readVarInt(n byte, p []byte) (uint64, []byte, error) {
	if len(p) == 0 {
		return 0, p, errNeedMore
	}
	i := uint64(p[0]) & (1<<n - 1)
	if i < 1<<n-1 {
		return i, p[1:], nil
	}
	orig := p
	p = p[1:]
	var m uint
	for len(p) > 0 {
		b := p[0]
		p = p[1:]
		i += uint64(b&0x7f) << m
		if b&0x80 == 0 {
			return i, p, nil
		}
		m += 7
		if m >= 63 {
			return 0, orig, errHPACKVarint
		}
	}
	return 0, orig, errNeedMore
}

// at returns the entry of index i: static table first, then dynamic
// (newest first).
func (d *hpackDecoder) at(i uint64) (field, bool) {
	switch {
	case i == 0:
		return field{}, false
	case i <= uint64(len(staticTable)):
		return staticTable[i-1], true
	case i <= uint64(len(staticTable)+len(d.dyn)):
		return d.dyn[len(d.dyn)-int(i-uint64(len(staticTable)))], true
	}
	return field{}, false
}

// add inserts f in the dynamic table, evicting as needed (RFC 7541 §4.4).
func (d *hpackDecoder) add(f field) {
	if f.nameOK && f.canon == "" {
		f.canon = d.canonical(f.name)
	}
	d.dyn = append(d.dyn, f)
	d.dynSize += f.size()
	d.evict()
}

func (d *hpackDecoder) evict() {
	n := 0
	for d.dynSize > d.maxSize && n < len(d.dyn) {
		d.dynSize -= d.dyn[n].size()
		n++
	}
	if n == 0 {
		return
	}
	clear(d.dyn[:n]) // let the strings go
	d.dyn = d.dyn[n:]
	if len(d.dyn) == 0 {
		d.dyn = d.dyn[:0:0]
	}
}

// validWireName is x/net's validWireHeaderFieldName: a token without
// upper case (RFC 9113 §8.2.1).
func validWireName(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if !httpguts.IsTokenRune(r) || 'A' <= r && r <= 'Z' {
			return false
		}
	}
	return true
}

func staticField(name, value string) field {
	f := field{name: name, value: value, valueOK: true}
	if !strings.HasPrefix(name, ":") {
		f.nameOK = true
		f.canon = canonicalKey(name)
	}
	return f
}

// staticTable is RFC 7541 Appendix A.
var staticTable = func() []field {
	ents := [][2]string{
		{":authority", ""},
		{":method", "GET"},
		{":method", "POST"},
		{":path", "/"},
		{":path", "/index.html"},
		{":scheme", "http"},
		{":scheme", "https"},
		{":status", "200"},
		{":status", "204"},
		{":status", "206"},
		{":status", "304"},
		{":status", "400"},
		{":status", "404"},
		{":status", "500"},
		{"accept-charset", ""},
		{"accept-encoding", "gzip, deflate"},
		{"accept-language", ""},
		{"accept-ranges", ""},
		{"accept", ""},
		{"access-control-allow-origin", ""},
		{"age", ""},
		{"allow", ""},
		{"authorization", ""},
		{"cache-control", ""},
		{"content-disposition", ""},
		{"content-encoding", ""},
		{"content-language", ""},
		{"content-length", ""},
		{"content-location", ""},
		{"content-range", ""},
		{"content-type", ""},
		{"cookie", ""},
		{"date", ""},
		{"etag", ""},
		{"expect", ""},
		{"expires", ""},
		{"from", ""},
		{"host", ""},
		{"if-match", ""},
		{"if-modified-since", ""},
		{"if-none-match", ""},
		{"if-range", ""},
		{"if-unmodified-since", ""},
		{"last-modified", ""},
		{"link", ""},
		{"location", ""},
		{"max-forwards", ""},
		{"proxy-authenticate", ""},
		{"proxy-authorization", ""},
		{"range", ""},
		{"referer", ""},
		{"refresh", ""},
		{"retry-after", ""},
		{"server", ""},
		{"set-cookie", ""},
		{"strict-transport-security", ""},
		{"transfer-encoding", ""},
		{"user-agent", ""},
		{"vary", ""},
		{"via", ""},
		{"www-authenticate", ""},
	}
	t := make([]field, len(ents))
	for i, e := range ents {
		t[i] = staticField(e[0], e[1])
	}
	return t
}()

// internedNames: literal names that need no string of their own.
var internedNames = func() map[string]string {
	m := make(map[string]string)
	for _, f := range staticTable {
		m[f.name] = f.name
	}
	for k := range commonCanonical {
		m[k] = k
	}
	return m
}()
