package inspect

import (
	"errors"
	"io/fs"
	"os"
	"strconv"

	"github.com/plumbnet/plumb/container"
)

// file reads the target's /etc/BASE as the target sees it, changing
// nothing. A netns without /etc/netns/NAME/BASE sees the host's file
// (`ip netns exec` bind-mounts only what exists there); a bare namespace
// path names no files at all.
func file(t *container.Target, f container.File, base string) Section[File] {
	s := Section[File]{Command: catCommand(t, base)}
	if f == nil {
		s.Items.Note = "a bare namespace path has no files of its own: the processes in it see their own mount namespace's /etc/" + base
		return s
	}
	s.Items.Path = f.Path()
	b, err := f.Read()
	if errors.Is(err, fs.ErrNotExist) && t.Kind == container.KindNetNS {
		s.Items.Note = "no " + f.Path() + ": the target sees the host's /etc/" + base
		s.Items.Path = "/etc/" + base
		b, err = os.ReadFile(s.Items.Path)
	}
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Items.Content = string(b)
	return s
}

// catCommand is how a person reads the file from inside the target.
func catCommand(t *container.Target, base string) string {
	path := "/etc/" + base
	switch t.Kind {
	case container.KindDocker:
		name := t.ContainerName
		if name == "" {
			name = t.ContainerID
		}
		return "docker exec " + name + " cat " + path
	case container.KindNetNS:
		return "ip netns exec " + t.ContainerName + " cat " + path
	case container.KindPID:
		return "nsenter --target " + strconv.Itoa(t.PID) + " --mount cat " + path
	}
	return ""
}
