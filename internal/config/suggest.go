package config

import "strings"

// topLevel is the context name of the document's root mapping in messages.
const topLevel = "the top level"

// suggest returns the candidate closest to s when it is close enough to be a likely
// typo, or "". Case, "_" and "-" are ignored first (maxBodyBytes → max_body_bytes);
// then the optimal-string-alignment distance must be small relative to the length.
func suggest(s string, candidates []string) string {
	if len(s) > 64 || s == "" {
		return ""
	}
	norm := func(x string) string {
		x = strings.ToLower(x)
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(x)
	}
	ns := norm(s)
	best, bestD := "", -1
	for _, c := range candidates {
		if norm(c) == ns {
			return c
		}
		d := osaDistance(strings.ToLower(s), c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := len(s) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	if bestD >= 0 && bestD <= limit {
		return best
	}
	return ""
}

// osaDistance is the optimal string alignment distance (Levenshtein plus adjacent
// transpositions) between a and b, by bytes.
func osaDistance(a, b string) int {
	// Three rows: i-2, i-1 and i.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
