package graph

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Formats are what Render writes.
var Formats = []string{"text", "dot", "svg", "png"}

// Renderers choose who draws svg and png: "auto" is Graphviz's dot when
// it is installed, else the built-in drawing; "dot" and "builtin" insist.
var Renderers = []string{"auto", "dot", "builtin"}

// Options say how Render draws.
type Options struct {
	Format   string // one of Formats; empty: text
	Renderer string // one of Renderers; empty: auto
	// LookPath finds Graphviz's dot; nil: exec.LookPath.
	LookPath func(string) (string, error)
}

// ErrNoGraphviz is a dot renderer asked for where Graphviz is not installed.
var ErrNoGraphviz = errors.New("Graphviz's dot is not installed (apt-get install graphviz)")

// CheckOptions refuses a format or renderer Render does not know, in one
// line naming it.
func CheckOptions(o Options) error {
	if o.Format != "" && !contains(Formats, o.Format) {
		return fmt.Errorf("invalid --format %q: want %s", o.Format, strings.Join(Formats, ", "))
	}
	if o.Renderer != "" && !contains(Renderers, o.Renderer) {
		return fmt.Errorf("invalid --renderer %q: want %s", o.Renderer, strings.Join(Renderers, ", "))
	}
	return nil
}

// Render writes t to w in o.Format. svg and png go through `dot -Tsvg`
// (or -Tpng) when Graphviz is installed and o.Renderer allows, else
// through Draw.
func Render(w io.Writer, t *Topology, o Options) error {
	if err := CheckOptions(o); err != nil {
		return err
	}
	switch o.Format {
	case "", "text":
		return Text(w, t)
	case "dot":
		return Dot(w, t)
	}
	if o.Renderer == "builtin" {
		return Draw(w, t, o.Format)
	}
	lookPath := o.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	dot, err := lookPath("dot")
	switch {
	case err == nil:
		return runDot(w, dot, t, o.Format)
	case o.Renderer == "dot":
		return fmt.Errorf("rendering %s: %w", o.Format, ErrNoGraphviz)
	}
	if err := Draw(w, t, o.Format); err != nil {
		return fmt.Errorf("rendering %s in-process: %v; or install Graphviz (apt-get install graphviz)", o.Format, err)
	}
	return nil
}

// runDot renders t with Graphviz. Equivalent to: `plumb graph --format dot
// | dot -Tsvg`.
func runDot(w io.Writer, dot string, t *Topology, format string) error {
	var src, out, stderr bytes.Buffer
	if err := Dot(&src, t); err != nil {
		return err
	}
	cmd := exec.Command(dot, "-T"+format)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &src, &out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("rendering %s with %s: %v: %s", format, dot, err, strings.TrimSpace(stderr.String()))
	}
	_, err := out.WriteTo(w)
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
