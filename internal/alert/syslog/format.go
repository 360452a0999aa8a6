package syslog

import (
	"bytes"
	"strconv"
)

// The log lines Rampart writes start the way slog.JSONHandler (and the
// audit package's direct encoder) starts every record:
//
//	{"time":"2026-12-05T15:04:05.123456789Z","level":"WARN","msg":"audit","event":"rejected",...
//
// so telling an audit event from an access line or an operational message
// needs no JSON parser: the filter matches that prefix byte by byte and
// looks up the event name. Anything else (a line of another shape, a torn
// line) is not forwarded.

const (
	kindOther  = iota
	kindAudit  // "msg":"audit"
	kindAccess // "msg":"access"
)

var (
	timePrefix  = []byte(`{"time":"`)
	levelPrefix = []byte(`","level":"`)
	msgPrefix   = []byte(`","msg":"`)
	eventKey    = []byte(`,"event":"`)
)

// head is what the filter reads of a line.
type head struct {
	kind  int
	time  []byte // the time value, as written
	level []byte // DEBUG, INFO, WARN, ERROR, maybe with +N/-N
	event []byte // the "event" value for audit lines (raw, may be empty)
}

// parseHead reads the start of one line (without its newline).
func parseHead(line []byte) head {
	rest, ok := bytes.CutPrefix(line, timePrefix)
	if !ok {
		return head{}
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return head{}
	}
	h := head{time: rest[:i]}
	if rest, ok = bytes.CutPrefix(rest[i:], levelPrefix); !ok {
		return head{}
	}
	if i = bytes.IndexByte(rest, '"'); i < 0 {
		return head{}
	}
	h.level = rest[:i]
	if rest, ok = bytes.CutPrefix(rest[i:], msgPrefix); !ok {
		return head{}
	}
	switch {
	case bytes.HasPrefix(rest, []byte(`audit"`)):
		h.kind = kindAudit
		rest = rest[len(`audit"`):]
	case bytes.HasPrefix(rest, []byte(`access"`)):
		h.kind = kindAccess
		return h
	default:
		return head{}
	}
	// In JSON a quote inside a string is always escaped, so `,"event":"`
	// with bare quotes is a key, never string content; the audit encoders
	// write event first.
	if i = bytes.Index(rest, eventKey); i >= 0 {
		v := rest[i+len(eventKey):]
		if j := bytes.IndexAny(v, `"\`); j >= 0 {
			h.event = v[:j]
		}
	}
	return h
}

// severity maps a slog level to an RFC 5424 severity.
func severity(level []byte) int {
	switch {
	case bytes.HasPrefix(level, []byte("ERROR")):
		return 3 // error
	case bytes.HasPrefix(level, []byte("WARN")):
		return 4 // warning
	case bytes.HasPrefix(level, []byte("INFO")):
		return 6 // informational
	default:
		return 7 // debug
	}
}

// header holds the fixed fields of every message, pre-encoded.
type header struct {
	facility int
	rest     []byte // " HOSTNAME APP-NAME PROCID "
}

// appendMessage appends the RFC 5424 message for a line:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
//
// with no structured data and MSG the JSON line itself (MSG-ANY: no BOM, so
// collectors hand the JSON to parsers unchanged).
func (hd *header) appendMessage(b []byte, h head, line []byte) []byte {
	sev := 6
	msgid := []byte("access")
	if h.kind == kindAudit {
		sev = severity(h.level)
		msgid = h.event
	}
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(hd.facility*8+sev), 10)
	b = append(b, '>', '1', ' ')
	b = appendTimestamp(b, h.time)
	b = append(b, hd.rest...)
	b = appendMsgID(b, msgid)
	b = append(b, " - "...)
	return append(b, line...)
}

// appendTimestamp writes slog's RFC 3339 time with the fraction cut to the
// six digits RFC 5424 allows, or the NILVALUE when it is not such a time.
func appendTimestamp(b []byte, t []byte) []byte {
	// 2006-01-02T15:04:05 then an optional fraction, then Z or ±hh:mm.
	if len(t) < 20 || !shaped(t[:19], "dddd-dd-ddTdd:dd:dd") {
		return append(b, '-')
	}
	start := len(b)
	i := 19
	frac := 0
	if t[i] == '.' {
		j := i + 1
		for j < len(t) && t[j] >= '0' && t[j] <= '9' {
			j++
		}
		frac = j - i - 1
		if frac == 0 {
			return append(b, '-')
		}
		b = append(b, t[:i+1+min(frac, 6)]...)
		i = j
	} else {
		b = append(b, t[:19]...)
	}
	zone := t[i:]
	if !(len(zone) == 1 && zone[0] == 'Z' || len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') && shaped(zone[1:], "dd:dd")) {
		return append(b[:start], '-')
	}
	return append(b, zone...)
}

// shaped reports whether b matches pattern, where d is any digit and
// other bytes stand for themselves.
func shaped(b []byte, pattern string) bool {
	if len(b) != len(pattern) {
		return false
	}
	for i, c := range b {
		if p := pattern[i]; p == 'd' && (c < '0' || c > '9') || p != 'd' && c != p {
			return false
		}
	}
	return true
}

// appendMsgID writes id as an RFC 5424 MSGID: at most 32 printable ASCII
// characters (others become _), or - when empty.
func appendMsgID(b []byte, id []byte) []byte {
	if len(id) == 0 {
		return append(b, '-')
	}
	for _, c := range id[:min(len(id), 32)] {
		if c < 33 || c > 126 {
			c = '_'
		}
		b = append(b, c)
	}
	return b
}

// sanitize makes s a valid header field (printable ASCII, at most max
// bytes), or - when nothing is left.
func sanitize(s string, max int) string {
	out := []byte(s)[:min(len(s), max)]
	for i, c := range out {
		if c < 33 || c > 126 {
			out[i] = '_'
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return string(out)
}
