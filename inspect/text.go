package inspect

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Text writes the report for a person: one titled section after another,
// each a table like `docker ps`'s, followed by the command that shows the
// same by hand on a line of its own, dimmed when dim is set (a terminal).
func Text(w io.Writer, r *Report, dim bool) error {
	p := &printer{w: w, dim: dim}
	p.header(r)
	p.namespace(r.Namespace)
	p.interfaces(r.Interfaces)
	p.routes(r.Routes)
	p.neighbours(r.Neighbours)
	p.listening(r.Listening)
	p.file("RESOLV.CONF", r.ResolvConf)
	p.file("HOSTS", r.Hosts)
	p.endpoints(r)
	p.dns(r)
	p.firewall(r)
	return p.err
}

type printer struct {
	w   io.Writer
	dim bool
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// table writes header and rows aligned, indented two spaces.
func (p *printer) table(header string, rows [][]string) {
	if p.err != nil {
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "  "+header)
	for _, r := range rows {
		fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
	}
	p.err = tw.Flush()
}

// footer writes a section's error, if any, and its command.
func (p *printer) footer(errText, cmd string) {
	if errText != "" {
		p.printf("  error: %s\n", errText)
	}
	if cmd == "" {
		cmd = "-"
	}
	if p.dim {
		p.printf("  \x1b[2m$ %s\x1b[0m\n\n", cmd)
	} else {
		p.printf("  $ %s\n\n", cmd)
	}
}

func (p *printer) header(r *Report) {
	t := r.Target
	who := t.Kind
	for _, s := range []string{t.ContainerName, short(t.ContainerID), t.Hostname} {
		if s != "" {
			who += " " + s
			break
		}
	}
	if t.PID != 0 {
		who += " pid " + strconv.Itoa(t.PID)
	}
	p.printf("TARGET %s (%s)\n\n", t.Spec, who)
}

func (p *printer) namespace(s Section[Namespace]) {
	p.printf("NAMESPACE %s net:[%d]\n", s.Items.Path, s.Items.Inode)
	var rows [][]string
	for _, pr := range s.Items.Processes {
		rows = append(rows, []string{strconv.Itoa(pr.PID), pr.Command})
	}
	p.table("PID\tCOMMAND", rows)
	p.footer(s.Error, s.Command)
}

func (p *printer) interfaces(s Section[[]Interface]) {
	p.printf("INTERFACES\n")
	var rows [][]string
	for _, in := range s.Items {
		peer, br := "-", "-"
		if in.HostPeer != nil {
			peer, br = fmt.Sprintf("%s (%d)", in.HostPeer.Name, in.HostPeer.Index), dash(in.HostPeer.Bridge)
		}
		rows = append(rows, []string{in.Name, strconv.Itoa(in.Index), dash(in.Kind), dash(in.MAC),
			strconv.Itoa(in.MTU), in.State, prefixes(in.Addrs), peer, br})
	}
	p.table("NAME\tINDEX\tKIND\tMAC\tMTU\tSTATE\tADDRESSES\tHOST PEER\tBRIDGE", rows)
	p.footer(s.Error, s.Command)
}

func (p *printer) routes(s Section[[]nsviewRoute]) {
	p.printf("ROUTES\n")
	var rows [][]string
	for _, r := range s.Items {
		dst := r.Dst.String()
		if r.Dst.Bits() == 0 {
			dst = "default"
		}
		rows = append(rows, []string{dst, addr(r.Gateway), dash(r.Dev), addr(r.Src), r.Proto, r.Scope, table(r.Table)})
	}
	p.table("DESTINATION\tGATEWAY\tDEV\tSRC\tPROTO\tSCOPE\tTABLE", rows)
	p.footer(s.Error, s.Command)
}

func (p *printer) neighbours(s Section[[]nsviewNeighbour]) {
	p.printf("NEIGHBOURS\n")
	var rows [][]string
	for _, n := range s.Items {
		rows = append(rows, []string{n.IP.String(), dash(n.MAC), n.Dev, n.State})
	}
	p.table("IP\tMAC\tDEV\tSTATE", rows)
	p.footer(s.Error, s.Command)
}

func (p *printer) listening(s Section[[]nsviewSocket]) {
	p.printf("LISTENING\n")
	var rows [][]string
	for _, k := range s.Items {
		pid := "-"
		if k.PID != 0 {
			pid = strconv.Itoa(k.PID)
		}
		rows = append(rows, []string{k.Proto, k.Local.String(), pid, dash(k.Command)})
	}
	p.table("PROTO\tLOCAL\tPID\tCOMMAND", rows)
	p.footer(s.Error, s.Command)
}

func (p *printer) file(title string, s Section[File]) {
	p.printf("%s %s\n", title, s.Items.Path)
	if s.Items.Note != "" {
		p.printf("  (%s)\n", s.Items.Note)
	}
	for _, l := range strings.Split(strings.TrimRight(s.Items.Content, "\n"), "\n") {
		if l != "" {
			p.printf("  %s\n", l)
		}
	}
	p.footer(s.Error, s.Command)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

func prefixes(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return dash(strings.Join(s, ", "))
}

// table names a routing table as `ip route` does.
func table(t int) string {
	switch t {
	case 254:
		return "main"
	case 253:
		return "default"
	}
	return strconv.Itoa(t)
}
