package config

import "github.com/rampart-gw/rampart/internal/config/conf"

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
	return conf.Suggest(s, candidates)
}
