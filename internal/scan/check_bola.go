package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// maxBOLAOps bounds the operations tried with the second user's token.
const maxBOLAOps = 10

// identityClaims are the JWT claims that name a user.
var identityClaims = []string{"sub", "username", "user_name", "preferred_username", "email", "user", "name", "uid", "user_id"}

// identities returns the values naming --token's user (empty for an opaque token).
func (s *scanner) identities() []string {
	if s.token == nil {
		return nil
	}
	var out []string
	for _, c := range identityClaims {
		var v string
		switch x := s.token.claims[c].(type) {
		case string:
			v = x
		case json.Number:
			v = x.String()
		}
		if len(v) >= 2 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// mentions reports whether a body carries one of ids as a JSON value.
func mentions(body []byte, ids []string) bool {
	for _, id := range ids {
		q, _ := json.Marshal(id)
		if bytes.Contains(body, q) {
			return true
		}
		// A numeric identity: "owner": 42.
		for _, sep := range []string{":", ": "} {
			for _, end := range []string{",", "}", "]"} {
				if bytes.Contains(body, []byte(sep+id+end)) {
					return true
				}
			}
		}
	}
	return false
}

// asUserB sends a request with --token-b in place of the scan's credential.
func (s *scanner) asUserB(ctx context.Context, method, target string, body []byte) *exchange {
	h := http.Header{"Authorization": {"Bearer " + s.opts.TokenB}}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	return s.send(ctx, &request{method: method, target: target, header: h, body: body, kind: kindProbe, credNote: "--token-b, the second user"})
}

// checkBOLA is BOLA001 (reads) and BOLA002 (writes, --allow-unsafe): user
// A's objects requested with user B's token.
func (s *scanner) checkBOLA(ctx context.Context) {
	rules := []string{"BOLA001", "BOLA002"}
	switch {
	case s.opts.Token == "" || s.opts.TokenB == "":
		for _, r := range rules {
			s.skipped(r, "needs --token and --token-b (two ordinary users)")
		}
		return
	case s.api == nil:
		for _, r := range rules {
			s.skipped(r, "needs --openapi")
		}
		return
	case s.opts.Token == s.opts.TokenB:
		for _, r := range rules {
			s.skipped(r, "--token and --token-b are the same token")
		}
		return
	}
	ids := s.identities()
	if len(ids) == 0 {
		for _, r := range rules {
			s.skipped(r, "--token is not a JWT naming its user (sub, username, email...): objects cannot be told to be A's")
		}
		return
	}
	s.bolaReads(ctx, ids)
	s.bolaWrites(ctx, ids)
}

func (s *scanner) bolaReads(ctx context.Context, ids []string) {
	n := 0
	for _, ep := range s.eps {
		if n == maxBOLAOps || s.out(ctx) || s.credDead {
			break
		}
		// An object: a path parameter, a secured operation that refuses
		// anonymous callers, answered to A with A named in it.
		if ep.op == nil || !strings.Contains(ep.template, "{") || !refused(ep.unauth) || !is2xx(ep.auth) || !mentions(ep.auth.body, ids) {
			continue
		}
		n++
		ex := s.asUserB(ctx, ep.method, ep.target, nil)
		if !is2xx(ex) || !sameJSON(ex.body, ep.auth.body) {
			continue
		}
		s.found(hit{rule: "BOLA001", ex: ex, baseline: ep.unauth, key: ep.method + " " + ep.template, bodyAt: "*",
			message: fmt.Sprintf("%s %s returns user A's object (it names A) to user B (--token-b) unchanged, while refusing anonymous callers (%d).", ep.method, ep.template, ep.unauth.status),
			proof:   fmt.Sprintf("anonymous → %d; user A → %d; user B → %d with the same body as A's", ep.unauth.status, ep.auth.status, ex.status)})
	}
	if n == 0 {
		s.skipped("BOLA001", "no secured GET operation with a path parameter returned an object naming --token's user")
		return
	}
	s.tested("BOLA001")
}

// sameJSON compares two bodies as JSON values (byte equality otherwise).
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// reUserParam spots path parameters that name a user.
var reUserParam = regexp.MustCompile(`(?i)user|name|owner|email|account|login`)

func (s *scanner) bolaWrites(ctx context.Context, ids []string) {
	if !s.opts.AllowUnsafe {
		s.skipped("BOLA002", "needs --allow-unsafe (it sends PUT/PATCH as the second user)")
		return
	}
	n := 0
	for _, op := range s.unsafe {
		if n == maxBOLAOps || s.out(ctx) || s.credDead {
			break
		}
		if op.Method != http.MethodPut && op.Method != http.MethodPatch || !strings.Contains(op.Path, "{") || !op.Secured() {
			continue
		}
		// Put A's identity in the user-naming path parameter.
		override := map[string]string{}
		for _, p := range op.Params {
			if p.In == "path" && reUserParam.MatchString(p.Name) {
				override["path:"+p.Name] = url.PathEscape(ids[0])
			}
		}
		if len(override) == 0 {
			continue
		}
		target := s.fill(op, override)
		sent, _ := sample(op.Body, 0).(map[string]any)
		body, _ := jsonBody(sent, op.Body != nil)
		n++
		anon := s.send(ctx, &request{method: op.Method, target: target, body: body, kind: kindProbe})
		if !refused(anon) {
			continue // not an access-controlled write: nothing to judge
		}
		ex := s.asUserB(ctx, op.Method, target, body)
		if !is2xx(ex) {
			continue
		}
		h := hit{rule: "BOLA002", ex: ex, baseline: anon, key: op.Method + " " + op.Path, override: true, severity: Medium,
			message: fmt.Sprintf("User B (--token-b) changed %s %s for user A (%s in the path) and got %d, while an anonymous write is refused (%d). The change cannot be read back, so this is medium.",
				op.Method, op.Path, ids[0], ex.status, anon.status),
			proof: fmt.Sprintf("anonymous → %d; user B on A's object → %d", anon.status, ex.status)}
		if back := s.readBack(ctx, op, target); back != nil && changedTo(back.body, sent) {
			h.override = false
			h.message = fmt.Sprintf("User B (--token-b) changed user A's object with %s %s (%d); reading it back with A's credential shows B's values.", op.Method, op.Path, ex.status)
			h.proof += fmt.Sprintf("; read back by A → %d with B's values", back.status)
		}
		s.found(h)
	}
	if n == 0 {
		s.skipped("BOLA002", "no secured PUT/PATCH operation with a path parameter naming a user")
		return
	}
	s.tested("BOLA002")
}

// readBack GETs the object a write changed, with A's credential: the same
// path when the document has a GET there.
func (s *scanner) readBack(ctx context.Context, op *Operation, target string) *exchange {
	for _, ep := range s.eps {
		if ep.op != nil && ep.op.Path == op.Path && ep.method == http.MethodGet {
			path, _, _ := strings.Cut(target, "?")
			h, q := s.credential(ep.op)
			return s.send(ctx, &request{method: http.MethodGet, target: withQuery(path, q), header: h, kind: kindProbe, creds: true})
		}
	}
	return nil
}

// changedTo reports whether every string property sent is in the body read back.
func changedTo(body []byte, sent map[string]any) bool {
	var got map[string]any
	if json.Unmarshal(body, &got) != nil || len(sent) == 0 {
		return false
	}
	n := 0
	for k, v := range sent {
		if sv, ok := v.(string); ok {
			n++
			if got[k] != sv {
				return false
			}
		}
	}
	return n > 0
}
