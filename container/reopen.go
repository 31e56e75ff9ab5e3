package container

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// HostsFileOf returns the hosts file of a target that can no longer be
// resolved (its container or namespace is gone), from what was recorded at
// attach: the file outlives a netns:NAME namespace, and a stopped Docker
// container keeps its host-side file. It returns nil when there is nothing
// plumb may write: a process target, whose root went with the process.
func HostsFileOf(kind Kind, spec, recordedPath string) File {
	return fileOf(kind, spec, "hosts", recordedPath)
}

// ResolvFileOf is HostsFileOf for resolv.conf.
func ResolvFileOf(kind Kind, spec, recordedPath string) File {
	return fileOf(kind, spec, "resolv.conf", recordedPath)
}

func fileOf(kind Kind, spec, base, recordedPath string) File {
	switch kind {
	case KindNetNS:
		name := spec
		for _, p := range []string{"netns:", "/var/run/netns/", "/run/netns/"} {
			name = strings.TrimPrefix(name, p)
		}
		if checkNetnsName(name) != nil {
			return nil
		}
		return &netnsFile{dir: NetnsEtcDir, name: name, base: base}
	case KindDocker:
		if recordedPath == "" || !filepath.IsAbs(recordedPath) {
			return nil
		}
		return &hostFile{path: recordedPath}
	}
	return nil
}

// Tidy removes a netns file that plumb no longer needs: one that holds no
// plumb line and is byte for byte the host's file it was seeded from, so
// that `ip netns exec` sees exactly what it would see without it. Any other
// file, or kind of file, is left alone. Equivalent to:
// `cmp -s /etc/netns/NAME/hosts /etc/hosts && rm /etc/netns/NAME/hosts`.
func Tidy(f File) error {
	nf, ok := f.(*netnsFile)
	if !ok {
		return nil
	}
	cur, err := os.ReadFile(nf.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	seed, err := readHostSeed(filepath.Join(hostEtcDir, nf.base))
	if err != nil || !bytes.Equal(cur, seed) || bytes.Contains(cur, []byte("# "+hostsTagPrefix)) {
		return nil
	}
	return nf.Remove()
}
