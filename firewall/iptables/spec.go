package iptables

import (
	"fmt"
	"strings"
)

// splitSpec splits one iptables-save rule line into tokens the way
// iptables-restore does: on blanks, with double quotes grouping and a
// backslash escaping the next character inside them. `--comment "a b"`
// gives the tokens `--comment` and `a b`.
func splitSpec(line string) ([]string, error) {
	var (
		toks    []string
		cur     strings.Builder
		inQuote bool
		inTok   bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inQuote = !inQuote
			inTok = true
		case !inQuote && (c == ' ' || c == '\t'):
			if inTok {
				toks = append(toks, cur.String())
				cur.Reset()
				inTok = false
			}
		default:
			cur.WriteByte(c)
			inTok = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("splitting rule %q: unterminated quote", line)
	}
	if inTok {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

// quoteToken quotes tok for iptables-restore when it is empty or holds a
// blank, a quote or a backslash.
func quoteToken(tok string) string {
	if tok != "" && !strings.ContainsAny(tok, " \t\"\\") {
		return tok
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(tok) + `"`
}

// joinSpec renders tokens as one iptables-restore line fragment.
func joinSpec(spec []string) string {
	q := make([]string, len(spec))
	for i, t := range spec {
		q[i] = quoteToken(t)
	}
	return strings.Join(q, " ")
}

// specValue returns the token after the first occurrence of flag in spec
// ("-j" gives the target, "--comment" the comment), or "".
func specValue(spec []string, flag string) string {
	for i := 0; i+1 < len(spec); i++ {
		if spec[i] == flag {
			return spec[i+1]
		}
	}
	return ""
}
