package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// privilegeFields are the properties mass assignment is usually about.
var privilegeFields = []struct {
	name  string
	value any
}{{"admin", true}, {"is_admin", true}, {"isAdmin", true}, {"role", "admin"}, {"roles", []any{"admin"}},
	{"permissions", []any{"admin"}}, {"balance", json.Number("1000000")}, {"owner", "rampart-scan"}, {"verified", true}, {"is_verified", true}}

// maxExtraProps bounds the properties one probe adds.
const maxExtraProps = 16

// checkMassEffect is MASS002: a write with extra properties, read back;
// a property counts only when it holds the sent value after the probe and
// did not after a control write without it.
func (s *scanner) checkMassEffect(ctx context.Context) {
	if !s.unsafeWithAPI("MASS002", "it sends POST/PUT/PATCH requests") {
		return
	}
	n := 0
	for _, op := range s.unsafe {
		if n == maxMassOps || s.out(ctx) || s.credDead {
			break
		}
		ov := objectView(op.Body, 0)
		if op.Body == nil || ov.unknown || len(ov.props) == 0 || isLoginOp(op.Path) {
			continue // a login creates nothing to read back
		}
		back, param := s.readBackOp(op)
		if back == nil {
			continue
		}
		extra := map[string]any{}
		for _, f := range privilegeFields {
			if _, declared := ov.props[f.name]; !declared {
				extra[f.name] = f.value
			}
		}
		// Names the API itself returns for the object, not writable per the document.
		if sc := responseSchema(back.op, http.StatusOK); sc != nil {
			rv := objectView(sc, 0)
			for _, name := range sortedKeys(rv.props) {
				if _, declared := ov.props[name]; declared || len(extra) >= maxExtraProps || reIDLike.MatchString(name) {
					continue
				}
				if v, ok := probeValue(rv.props[name]); ok {
					extra[name] = v
				}
			}
		}
		if len(extra) == 0 {
			continue
		}
		n++
		control := s.massWrite(ctx, op, nil)
		controlBack := s.readObject(ctx, back, param, control)
		probe := s.massWrite(ctx, op, extra)
		probeBack := s.readObject(ctx, back, param, probe)
		if probeBack == nil || !is2xx(probeBack) || controlBack == nil || !is2xx(controlBack) {
			continue
		}
		names := sortedKeys(extra)
		already := echoedProps(controlBack.body, extra, names)
		var stuck []string
		for _, name := range echoedProps(probeBack.body, extra, names) {
			if !slices.Contains(already, name) {
				stuck = append(stuck, name)
			}
		}
		if len(stuck) == 0 {
			continue
		}
		s.found(hit{rule: "MASS002", ex: probe.ex, baseline: probeBack, key: op.Method + " " + op.Path, bodyAt: "*",
			message: fmt.Sprintf("%s %s took properties its request schema does not declare: reading the object back (%s %s) shows %s with the values sent, which a control write without them did not.",
				op.Method, op.Path, back.method, back.template, strings.Join(stuck, ", ")),
			proof: fmt.Sprintf("write with %s → %d; read back → %d with %s set as sent", strings.Join(stuck, ", "), probe.ex.status, probeBack.status, strings.Join(stuck, ", "))})
	}
	if n == 0 {
		s.skipped("MASS002", "no POST/PUT/PATCH operation with a JSON object body and a GET to read the object back")
		return
	}
	s.tested("MASS002")
}

var reIDLike = regexp.MustCompile(`(?i)^(id|uuid|.*_id|.*Id|created.*|updated.*|.*_at|.*At)$`)

// probeValue is a value for a property of this schema that a default is unlikely to hold.
func probeValue(sc *Schema) (any, bool) {
	switch {
	case sc == nil || sc.Unknown:
		return nil, false
	case sc.is("boolean"):
		return true, true
	case sc.is("integer"), sc.is("number"):
		return json.Number("987654"), true
	case sc.is("string") && sc.Format == "" && len(sc.Enum) == 0:
		return "rampart-scan-mass-assignment", true
	}
	return nil, false
}

// readBackOp finds the GET that reads what op writes: the same path (PUT
// /users/{id}), or a child of op's path or of its parent (POST /users →
// GET /users/{id}; POST /users/v1/register → GET /users/v1/{username}).
// param is the child's parameter, "" for the same path.
func (s *scanner) readBackOp(op *Operation) (*endpoint, string) {
	parent := op.Path[:max(0, strings.LastIndexByte(op.Path, '/'))]
	for _, ep := range s.eps {
		if ep.op != nil && ep.op.Path == op.Path && is2xx(ep.best()) {
			return ep, ""
		}
	}
	for _, ep := range s.eps {
		if ep.op == nil {
			continue
		}
		for _, base := range []string{op.Path, parent} {
			rest, ok := strings.CutPrefix(ep.op.Path, base+"/{")
			if ok && strings.HasSuffix(rest, "}") && !strings.ContainsAny(rest[:len(rest)-1], "/{}") {
				return ep, rest[:len(rest)-1]
			}
		}
	}
	// PUT /users/{name}/email is read back with GET /users/{name}.
	for _, ep := range s.eps {
		if ep.op != nil && ep.op.Path == parent && strings.HasSuffix(parent, "}") && is2xx(ep.best()) {
			return ep, ""
		}
	}
	return nil, ""
}

// massResult is one write and the body it sent.
type massResult struct {
	ex   *exchange
	sent map[string]any
}

// massWrite sends op's sample body (string values made unique, so a create
// does not collide with the previous one) plus extra.
func (s *scanner) massWrite(ctx context.Context, op *Operation, extra map[string]any) massResult {
	body, _ := sample(op.Body, 0).(map[string]any)
	if body == nil {
		body = map[string]any{}
	}
	s.massN++
	for k, v := range body {
		if sv, ok := v.(string); ok {
			if at := strings.IndexByte(sv, '@'); at > 0 {
				body[k] = fmt.Sprintf("%s%d%s", sv[:at], s.massN, sv[at:])
			} else {
				body[k] = fmt.Sprintf("%s%d", sv, s.massN)
			}
		}
	}
	for k, v := range extra {
		body[k] = v
	}
	ex := s.send(ctx, s.writeRequest(op, body))
	return massResult{ex: ex, sent: body}
}

// readObject GETs the object a write made or changed.
func (s *scanner) readObject(ctx context.Context, back *endpoint, param string, w massResult) *exchange {
	if w.ex == nil || !is2xx(w.ex) {
		return nil
	}
	target := back.target
	if param != "" {
		v, ok := objectKey(w.ex.body, w.sent, param)
		if !ok {
			return nil
		}
		target = s.fill(back.op, map[string]string{"path:" + param: escapePath(v)})
	}
	return s.sendLike(ctx, back, http.MethodGet, target, nil, kindProbe)
}

// objectKey finds the value of a path parameter for the object just
// written: the response's property of that name (or its id), else the sent one.
func objectKey(respBody []byte, sent map[string]any, param string) (string, bool) {
	var resp map[string]any
	_ = json.Unmarshal(respBody, &resp)
	np := normName(param)
	for _, m := range []map[string]any{resp, sent} {
		for k, v := range m {
			if nk := normName(k); nk == np || np == "id" && nk == "id" || strings.HasSuffix(np, "id") && nk == "id" {
				if sv := scalarString(v); sv != "" {
					return sv, true
				}
			}
		}
	}
	return "", false
}

func escapePath(v string) string { return strings.ReplaceAll(url.PathEscape(v), "%40", "@") }

// isLoginOp reports a login, token or session operation (not registration).
func isLoginOp(path string) bool {
	return slices.ContainsFunc(splitWords(path), func(w string) bool {
		return w != "register" && w != "signup" && slices.Contains(authWords, w)
	})
}
