package doctest

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Links must stay inside the repository: a reader of a checkout (or of a
// release tarball, offline) can follow every one, and none can rot or be
// redirected elsewhere. Standards are cited by number (RFC 9457), not linked.
// There is no allowlist of outside hosts, on purpose.

var (
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`(?m)^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)
	autoLink   = regexp.MustCompile(`<((?:https?|ftp|mailto):[^>\s]*)>`)
	inlineCode = regexp.MustCompile("`[^`\n]*`")
	heading    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	htmlAnchor = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
)

// link is one link target found in prose (outside code blocks and code spans).
type link struct {
	file, target string
	line         int
}

// prose returns the lines of md outside fenced code blocks, with code spans
// blanked, keyed by line number (1-based).
func prose(md string) map[int]string {
	out := outsideFences(md)
	for n, l := range out {
		out[n] = inlineCode.ReplaceAllString(l, "``")
	}
	return out
}

// outsideFences returns the lines of md outside fenced code blocks, keyed by
// line number (1-based).
func outsideFences(md string) map[int]string {
	out := map[int]string{}
	var fence string
	for i, l := range strings.Split(md, "\n") {
		if fence != "" {
			if strings.HasPrefix(l, fence) && strings.Trim(l, "`") == "" {
				fence = ""
			}
			continue
		}
		if f, _, ok := openingFence(l); ok {
			fence = f
			continue
		}
		out[i+1] = l
	}
	return out
}

func links(file, md string) []link {
	var out []link
	lines := prose(md)
	nums := make([]int, 0, len(lines))
	for n := range lines {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		l := lines[n]
		for _, re := range []*regexp.Regexp{inlineLink, refLink, autoLink} {
			for _, m := range re.FindAllStringSubmatch(l, -1) {
				out = append(out, link{file: file, target: m[1], line: n})
			}
		}
	}
	return out
}

// anchors returns the heading anchors of md as GitHub renders them:
// lower case, punctuation removed, spaces to hyphens, "-1", "-2" for repeats.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	lines := outsideFences(md)
	for n := 1; n <= len(strings.Split(md, "\n")); n++ {
		l, ok := lines[n]
		if !ok {
			continue
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(l, -1) {
			out[m[1]] = true
		}
		m := heading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		s := slug(m[1])
		if k := seen[s]; k > 0 {
			out[s+"-"+itoa(k)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && isLetter(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestLinksStayInsideAndResolve(t *testing.T) {
	root := repoRoot(t)
	texts := map[string]string{}
	for _, f := range docFiles(t, root) {
		texts[f] = readDoc(t, root, f)
	}
	checked := 0
	for _, f := range docFiles(t, root) {
		for _, l := range links(f, texts[f]) {
			checked++
			where := l.file + ":" + itoa(l.line)
			tgt := l.target
			switch {
			case strings.Contains(tgt, "://") || strings.HasPrefix(tgt, "mailto:") || strings.HasPrefix(tgt, "//"):
				t.Errorf("%s: link %q leaves the repository; link a file in the repository, or cite the standard by number", where, tgt)
				continue
			case tgt == "":
				t.Errorf("%s: empty link target", where)
				continue
			}
			path, frag, _ := strings.Cut(tgt, "#")
			dest := l.file
			if path != "" {
				if strings.HasPrefix(path, "/") {
					t.Errorf("%s: link %q is absolute; use a path relative to %s", where, tgt, l.file)
					continue
				}
				dest = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(l.file), path)))
				if dest == ".." || strings.HasPrefix(dest, "../") {
					t.Errorf("%s: link %q leaves the repository", where, tgt)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
					t.Errorf("%s: link %q: %s does not exist", where, tgt, dest)
					continue
				}
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				t.Errorf("%s: link %q: anchors are only checked in Markdown files", where, tgt)
				continue
			}
			text, ok := texts[dest]
			if !ok {
				text = readDoc(t, root, dest)
				texts[dest] = text
			}
			if !anchors(text)[frag] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", where, tgt, dest, frag)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no links found: the link extraction is broken")
	}
}

func TestLinkExtraction(t *testing.T) {
	md := "See [a](docs/a.md#x-y) and ![img](p.png \"t\").\n" +
		"`[not](code.md)`\n" +
		"```\n[not](block.md)\n```\n" +
		"[ref]: https://example.org/x\n" +
		"<https://example.org/auto>\n" +
		"## X y\n## X y\n### `rampart scan`: a tool\n"
	var got []string
	for _, l := range links("f.md", md) {
		got = append(got, l.target)
	}
	want := map[string]bool{"docs/a.md#x-y": true, "p.png": true, "https://example.org/x": true, "https://example.org/auto": true}
	if len(got) != len(want) {
		t.Fatalf("links = %q, want %d: %v", got, len(want), want)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected link %q", g)
		}
	}
	a := anchors(md)
	for _, w := range []string{"x-y", "x-y-1", "rampart-scan-a-tool"} {
		if !a[w] {
			t.Errorf("anchor %q missing from %v", w, a)
		}
	}
}
