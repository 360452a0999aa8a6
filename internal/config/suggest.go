package config

import "strings"

// topLevel is the context name of the document's root mapping in messages.
const topLevel = "the top level"

// suggestBudget bounds the edit-distance work of one Parse (in table cells), so that a
// hostile file with a huge number of unknown keys or dangling references stays fast;
// once spent, messages simply carry no "did you mean".
const suggestBudget = 20_000_000

// suggest is the budgeted form of suggest for messages about the parsed file.
func (p *parser) suggest(s string, candidates []string) string {
	if p.suggestSpent > suggestBudget {
		return ""
	}
	for _, c := range candidates {
		p.suggestSpent += (len(s) + 1) * (len(c) + 1)
	}
	return suggest(s, candidates)
}

// suggest returns the candidate closest to s when it is close enough to be a likely
// typo, or "". Case, "_" and "-" are ignored first (maxBodyBytes → max_body_bytes);
// then the optimal-string-alignment distance must be small relative to the length.
func suggest(s string, candidates []string) string {
	if len(s) > 64 || s == "" {
		return ""
	}
	ns := squash(s)
	ls := strings.ToLower(s)
	best, bestD := "", -1
	for _, c := range candidates {
		if squash(c) == ns {
			return c
		}
		if len(c) > len(s)+3 || len(s) > len(c)+3 {
			continue // too far apart to be suggested
		}
		d := osaDistance(ls, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := min(max(len(s)/3, 1), 3)
	if bestD >= 0 && bestD <= limit {
		return best
	}
	return ""
}

// squash lower-cases s and drops "_", "-" and spaces.
func squash(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c == '-' || c == ' ':
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// osaDistance is the optimal string alignment distance (Levenshtein plus adjacent
// transpositions) between a and b, by bytes.
func osaDistance(a, b string) int {
	// Three rows: i-2, i-1 and i, in one allocation.
	rows := make([]int, 3*(len(b)+1))
	prev2, prev, cur := rows[:len(b)+1], rows[len(b)+1:2*(len(b)+1)], rows[2*(len(b)+1):]
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
