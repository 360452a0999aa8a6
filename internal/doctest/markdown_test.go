package doctest

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// block is one fenced code block of a Markdown file.
type block struct {
	file string // path relative to the repository root
	line int    // line of the opening fence (1-based)
	info string // the info string, e.g. "sh walkthrough"
	text string // the content, each line ending in "\n"
}

func (b block) where() string { return b.file + ":" + strconv.Itoa(b.line) }

// lang is the first word of the info string.
func (b block) lang() string {
	if f := strings.Fields(b.info); len(f) > 0 {
		return f[0]
	}
	return ""
}

// attr returns the value of key=value in the info string, or "".
func (b block) attr(key string) string {
	for _, f := range strings.Fields(b.info) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// has reports whether the info string contains the word w.
func (b block) has(w string) bool {
	for _, f := range strings.Fields(b.info) {
		if f == w {
			return true
		}
	}
	return false
}

// parseBlocks returns the fenced code blocks of a Markdown text.
// Fences are lines starting with three or more backticks; a block ends at a
// fence of at least the same length with no info string.
func parseBlocks(file, md string) []block {
	var out []block
	lines := strings.SplitAfter(md, "\n")
	for i := 0; i < len(lines); i++ {
		fence, info, ok := openingFence(lines[i])
		if !ok {
			continue
		}
		b := block{file: file, line: i + 1, info: info}
		var body strings.Builder
		for i++; i < len(lines); i++ {
			l := strings.TrimRight(lines[i], "\r\n")
			if strings.HasPrefix(l, fence) && strings.Trim(l, "`") == "" {
				break
			}
			body.WriteString(strings.TrimRight(lines[i], "\r\n") + "\n")
		}
		b.text = body.String()
		out = append(out, b)
	}
	return out
}

func openingFence(line string) (fence, info string, ok bool) {
	l := strings.TrimRight(line, "\r\n")
	n := len(l) - len(strings.TrimLeft(l, "`"))
	if n < 3 {
		return "", "", false
	}
	return l[:n], strings.TrimSpace(l[n:]), true
}

// repoRoot is the repository's root directory (two levels above this package).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// docFiles lists README.md and every docs/*.md, relative to the root.
func docFiles(t testing.TB, root string) []string {
	t.Helper()
	files := []string{"README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		rel, _ := filepath.Rel(root, m)
		files = append(files, filepath.ToSlash(rel))
	}
	return files
}

func readDoc(t testing.TB, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseBlocks(t *testing.T) {
	md := "text\n```sh walkthrough\necho hi\n```\nafter\n````yaml file=a.yaml\nk: v\n```\nstill inside\n````\n"
	got := parseBlocks("x.md", md)
	if len(got) != 2 {
		t.Fatalf("got %d blocks, want 2: %+v", len(got), got)
	}
	if got[0].info != "sh walkthrough" || !got[0].has("walkthrough") || got[0].lang() != "sh" {
		t.Errorf("block 0 info = %q", got[0].info)
	}
	if want := "echo hi\n"; got[0].text != want {
		t.Errorf("block 0 text = %q, want %q", got[0].text, want)
	}
	// A shorter fence does not close a longer one.
	if got[1].attr("file") != "a.yaml" || got[1].text != "k: v\n```\nstill inside\n" || got[1].line != 6 {
		t.Errorf("block 1 = %+v", got[1])
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func isLetter(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
