package script

import "strings"

// next finds the first placeholder of s's Vars in text at or after i: its
// position and binding; -1 when none is left. At one position the longest
// literal wins.
func (s *Script) next(text string, i int) (int, binding) {
	at, best := -1, binding{}
	for _, v := range s.vars {
		if v.literal == "" {
			continue
		}
		j := strings.Index(text[i:], v.literal)
		if j < 0 {
			continue
		}
		j += i
		if at < 0 || j < at || j == at && len(v.literal) > len(best.literal) {
			at, best = j, v
		}
	}
	return at, best
}

// subst replaces the placeholders in a command line with references to
// their variables, quoted for where they stand: it follows the shell's
// single quotes, double quotes and backslashes as it reads the line.
func (s *Script) subst(line string) string {
	if len(s.vars) == 0 {
		return line
	}
	var out strings.Builder
	quote := byte(0) // '\'', '"' or 0 outside quotes
	for i := 0; i < len(line); {
		if at, v := s.next(line, i); at == i {
			switch quote {
			case '\'':
				out.WriteString(`'"$` + v.name + `"'`)
			case '"':
				out.WriteString("${" + v.name + "}")
			default:
				out.WriteString(`"$` + v.name + `"`)
			}
			i += len(v.literal)
			continue
		}
		c := line[i]
		out.WriteByte(c)
		i++
		switch {
		case c == '\\' && quote != '\'' && i < len(line):
			out.WriteByte(line[i])
			i++
		case c == '\'' && quote == 0, c == '"' && quote == 0:
			quote = c
		case c == quote:
			quote = 0
		}
	}
	return out.String()
}

// expand renders a here-document body holding placeholders for an
// unquoted delimiter: `\`, `$` and backquotes escaped, each placeholder a
// `${name}`. ok is false when body holds none (it then stays verbatim,
// under a quoted delimiter).
func (s *Script) expand(body string) (string, bool) {
	if at, _ := s.next(body, 0); at < 0 {
		return "", false
	}
	esc := strings.NewReplacer(`\`, `\\`, "$", `\$`, "`", "\\`")
	var out strings.Builder
	for i := 0; i < len(body); {
		at, v := s.next(body, i)
		if at < 0 {
			out.WriteString(esc.Replace(body[i:]))
			break
		}
		out.WriteString(esc.Replace(body[i:at]) + "${" + v.name + "}")
		i = at + len(v.literal)
	}
	return out.String(), true
}

// Quote is [Quote] with the placeholders of s's Vars as references.
func (s *Script) Quote(word string) string { return s.subst(Quote(word)) }
