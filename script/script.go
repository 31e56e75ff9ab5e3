package script

import (
	"fmt"
	"io"
	"strings"
)

// Script is a shell script under construction. The zero value is empty
// and ready; it is not safe for concurrent use.
type Script struct {
	b strings.Builder
}

// Cmd adds one command line: each argument quoted when the shell would
// read it otherwise.
func (s *Script) Cmd(args ...string) {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	s.b.WriteString(strings.Join(q, " "))
	s.b.WriteByte('\n')
}

// Line adds line as it is: a command the caller has quoted already.
func (s *Script) Line(line string) {
	s.b.WriteString(strings.TrimRight(line, "\n"))
	s.b.WriteByte('\n')
}

// Comment adds a "# ..." line for each line of text: what the script does
// not do itself, or why the next lines are there.
func (s *Script) Comment(format string, a ...any) {
	for _, l := range strings.Split(fmt.Sprintf(format, a...), "\n") {
		s.b.WriteString(strings.TrimRight("# "+l, " "))
		s.b.WriteByte('\n')
	}
}

// Heredoc adds `CMD... <<'EOF'`, body, `EOF`: body fed to the command's
// standard input, verbatim (the quoted delimiter expands nothing). The
// delimiter is EOF unless body has such a line.
func (s *Script) Heredoc(body string, args ...string) {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	s.heredoc(strings.Join(q, " "), body)
}

func (s *Script) heredoc(cmdline, body string) {
	delim := delimiter(body)
	fmt.Fprintf(&s.b, "%s <<'%s'\n", cmdline, delim)
	s.b.WriteString(body)
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
		s.Line("printf '%s' " + Quote(string(data)) + " >" + Quote(path))
	}
	if mode != 0o644 {
		s.Cmd("chmod", fmt.Sprintf("%o", mode), path)
	}
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
