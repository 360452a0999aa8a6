package conf

import "strings"

// Suggest returns the candidate closest to s when it is close enough to be a likely
// typo, or "". Case, "_" and "-" are ignored first (maxBodyBytes → max_body_bytes);
// then the optimal-string-alignment distance must be small relative to the length.
func Suggest(s string, candidates []string) string {
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
