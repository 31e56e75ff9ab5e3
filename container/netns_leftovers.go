package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// isLeftover reports whether an entry of NetnsEtcDir/NAME is a temporary
// file an older plumb, killed while it created NAME/hosts or
// NAME/resolv.conf, left behind: "." + base + ".plumb-" + hex digits.
func isLeftover(entry string) bool {
	for _, base := range []string{"hosts", "resolv.conf"} {
		rest, ok := strings.CutPrefix(entry, "."+base+".plumb-")
		if ok && rest != "" && strings.Trim(rest, "0123456789abcdef") == "" {
			return true
		}
	}
	return false
}

// leftoversIn lists the leftovers in the open directory dir, sorted.
func leftoversIn(dir *os.File) ([]string, error) {
	if _, err := dir.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir.Name(), err)
	}
	ents, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir.Name(), err)
	}
	var out []string
	for _, e := range ents {
		if isLeftover(e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out, nil
}

// sweepLeftovers removes the leftovers from the open directory dir.
func sweepLeftovers(dir *os.File) error {
	names, err := leftoversIn(dir)
	var errs []error
	for _, n := range names {
		if err := unix.Unlinkat(int(dir.Fd()), n, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, &os.PathError{Op: "unlink", Path: filepath.Join(dir.Name(), n), Err: err})
		}
	}
	return errors.Join(append(errs, err)...)
}

// NetnsLeftovers lists (as paths) the temporary files that a plumb older
// than this one, killed while it created NetnsEtcDir/NAME/hosts or
// resolv.conf, left in that directory: ".hosts.plumb-HEX" and
// ".resolv.conf.plumb-HEX". `ip netns exec NAME` bind-mounts every file of
// the directory over /etc and complains of these on every run. Nothing else
// is ever listed; a missing directory has none. This plumb leaves none (see
// createSeeded), and every write of the namespace's files, detach and Remove
// sweep them. Equivalent to: `ls -d /etc/netns/NAME/.*.plumb-*`.
func NetnsLeftovers(name string) ([]string, error) {
	dir, err := openNetnsDir(name)
	if dir == nil || err != nil {
		return nil, err
	}
	defer dir.Close()
	names, err := leftoversIn(dir)
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		names[i] = filepath.Join(NetnsEtcDir, name, n)
	}
	return names, nil
}

// NetnsLeftoverNames lists the namespace names whose NetnsEtcDir directory
// holds leftovers (NetnsLeftovers), whether or not plumb still knows of
// the namespace: for `plumb doctor`. Equivalent to:
// `ls -d /etc/netns/*/.*.plumb-* | cut -d/ -f4 | sort -u`.
func NetnsLeftoverNames() ([]string, error) {
	names, err := NetnsNames()
	var out []string
	for _, name := range names {
		if l, err := NetnsLeftovers(name); err == nil && len(l) > 0 {
			out = append(out, name)
		}
	}
	return out, err
}

// NetnsNames lists the namespaces that have a directory of files in
// NetnsEtcDir (/etc/netns/NAME), plumb's or anybody's.
func NetnsNames() ([]string, error) {
	ents, err := os.ReadDir(NetnsEtcDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", NetnsEtcDir, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && e.Name() != stagingDir && checkNetnsName(e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// RemoveNetnsLeftovers removes NetnsLeftovers(name), then NetnsEtcDir/NAME
// and NetnsEtcDir when that leaves them empty, and the staging files of
// dead writers. Files that are not leftovers stay. A missing directory is
// success. Equivalent to: `rm -f /etc/netns/NAME/.*.plumb-*;
// rmdir /etc/netns/NAME /etc/netns`.
func RemoveNetnsLeftovers(name string) error {
	dir, err := openNetnsDir(name)
	if dir == nil || err != nil {
		return err
	}
	defer dir.Close()
	if err := sweepLeftovers(dir); err != nil {
		return err
	}
	return (&netnsFile{dir: NetnsEtcDir, name: name}).removeEmptyDirs()
}

// openNetnsDir opens NetnsEtcDir/NAME for listing; nil, nil when it does
// not exist.
func openNetnsDir(name string) (*os.File, error) {
	if err := checkNetnsName(name); err != nil {
		return nil, err
	}
	dir, err := (&netnsFile{dir: NetnsEtcDir, name: name}).openDir(false)
	if isGone(err) {
		return nil, nil
	}
	return dir, err
}
