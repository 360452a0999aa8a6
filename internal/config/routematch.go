package config

import (
	"strings"

	"github.com/rampart-gw/rampart/internal/route"
	yaml "go.yaml.in/yaml/v4"
)

// routeOverlaps compiles the usable routes with package route, reporting malformed
// path templates and pairs of routes that could match the same request, at the
// offending route's path.
func (p *parser) routeOverlaps(infos []routeInfo) {
	var specs []route.Spec
	var idx []int // spec index → infos index
	for i, in := range infos {
		if !in.ok {
			continue
		}
		r := in.route
		specs = append(specs, route.Spec{Host: r.Host, Methods: r.Methods, Path: r.Path, Deny: r.Deny})
		idx = append(idx, i)
	}
	if len(specs) == 0 {
		return
	}
	_, errs := route.New(specs)

	type pair struct{ a, b int }
	var order []pair
	methods := map[pair][]string{}
	for _, err := range errs {
		switch e := err.(type) {
		case *route.SpecError:
			in := infos[idx[e.Index]]
			at := in.pathNode
			switch {
			case strings.HasPrefix(e.Msg, "host ") && in.hostNode != nil:
				at = in.hostNode
			case strings.Contains(e.Msg, "method") && !strings.Contains(e.Msg, "path template"):
				at = in.methNode
			}
			p.errAt(at, "%s: %s", routeLabel(in), e.Msg)
		case *route.OverlapError:
			k := pair{idx[e.A], idx[e.B]}
			if _, seen := methods[k]; !seen {
				order = append(order, k)
			}
			methods[k] = append(methods[k], e.Method)
		default:
			p.errAt(nil, "routes: %v", err)
		}
	}
	for _, k := range order {
		a, b := infos[k.a], infos[k.b]
		p.errAt(b.pathNode, "%s overlaps %s (line %d) for %s: same host and equivalent path templates, so neither takes precedence",
			routeLabel(b), routeLabel(a), lineOf(a.pathNode), strings.Join(methods[k], ", "))
	}
}

func routeLabel(in routeInfo) string { return in.label }

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}
