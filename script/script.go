package script

import (
	"fmt"
	"io"
	"strings"
)

// Script is a shell script under construction. The zero value is empty
// and ready; it is not safe for concurrent use.
type Script struct {
	b    strings.Builder
	vars []binding
}

// binding is one Var: literal stands for the shell variable name.
type binding struct{ name, literal string }

// Var has every later occurrence of literal, in a command line, a file's
// path or data, a here-document or a comment, stand for the value the
// shell variable name has when the script runs: a value the dry run cannot
// know, such as the id of a container the script itself creates. The
// reference is quoted as the text around it needs (`"$name"` among plain
// words, `'"$name"'` inside single quotes, `${name}` in a here-document,
// which then expands). It assigns nothing: the caller sets name first, e.g.
// Line(`id=$(docker create ...)`). name must be a shell identifier, literal
// a made-up placeholder that occurs nowhere else.
func (s *Script) Var(name, literal string) {
	s.vars = append(s.vars, binding{name: name, literal: literal})
}

// Cmd adds one command line: each argument quoted when the shell would
// read it otherwise.
func (s *Script) Cmd(args ...string) {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	s.Line(strings.Join(q, " "))
}

// Line adds line, a command the caller has quoted already, as it is but
// for the placeholders of Var.
func (s *Script) Line(line string) {
	s.b.WriteString(s.subst(strings.TrimRight(line, "\n")))
	s.b.WriteByte('\n')
}

// Comment adds a "# ..." line for each line of text: what the script does
// not do itself, or why the next lines are there.
func (s *Script) Comment(format string, a ...any) {
	text := fmt.Sprintf(format, a...)
	for _, v := range s.vars {
		text = strings.ReplaceAll(text, v.literal, "$"+v.name)
	}
	for _, l := range strings.Split(text, "\n") {
		s.b.WriteString(strings.TrimRight("# "+l, " "))
		s.b.WriteByte('\n')
	}
}

// Heredoc adds `CMD... <<'EOF'`, body, `EOF`: body fed to the command's
// standard input, verbatim (the quoted delimiter expands nothing), but for
// the placeholders of Var (the delimiter is then unquoted, and all else in
// body escaped). The delimiter is EOF unless body has such a line.
func (s *Script) Heredoc(body string, args ...string) {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	s.heredoc(strings.Join(q, " "), body)
}

func (s *Script) heredoc(cmdline, body string) {
	delim := delimiter(body)
	if expanded, ok := s.expand(body); ok {
		s.b.WriteString(s.subst(cmdline) + " <<" + delim + "\n" + expanded)
	} else {
		s.b.WriteString(s.subst(cmdline) + " <<'" + delim + "'\n" + body)
	}
	if body != "" && !strings.HasSuffix(body, "\n") {
		s.b.WriteByte('\n')
	}
	s.b.WriteString(delim + "\n")
}

// File adds what writes data to path: `cat > PATH <<'EOF'` when data ends
// with a newline (cat reproduces it exactly), else `printf '%s' DATA >
// PATH`; then `chmod MODE PATH` unless mode is 0644. It stands for the
// write, not for its atomicity (plumb writes aside and renames).
func (s *Script) File(path string, data []byte, mode uint32) {
	if len(data) > 0 && data[len(data)-1] == '\n' {
		s.heredoc("cat >"+Quote(path), string(data))
	} else {
		s.Line(`printf '%s' ` + Quote(string(data)) + " >" + Quote(path))
	}
	if mode != 0o644 {
		s.Cmd("chmod", fmt.Sprintf("%o", mode), path)
	}
}

// Append adds what appends data, which ends with a newline, to path:
// `cat >> PATH <<'EOF'`.
func (s *Script) Append(path string, data []byte) {
	s.heredoc("cat >>"+Quote(path), string(data))
}

// String is the script so far.
func (s *Script) String() string { return s.b.String() }

// WriteTo writes the script to w.
func (s *Script) WriteTo(w io.Writer) (int64, error) {
	n, err := io.WriteString(w, s.b.String())
	return int64(n), err
}

// Quote returns s as one shell word: as it is when it holds only
// characters the shell reads literally, else in single quotes.
func Quote(s string) string {
	if s != "" && strings.Trim(s, safe) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + "@%+=:,./-_"

// delimiter is a here-document delimiter that is no line of body.
func delimiter(body string) string {
	d := "EOF"
	for i := 0; ; i++ {
		clash := false
		for _, l := range strings.Split(body, "\n") {
			if l == d {
				clash = true
				break
			}
		}
		if !clash {
			return d
		}
		d = fmt.Sprintf("EOF%d", i)
	}
}
