package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/atomicfile"
)

// stagingDir, under NetnsEtcDir, holds the netns files being written on a
// file system without unnamed files (see createStaged).
const stagingDir = ".plumb-tmp"

// stagingStale is the age past which a file in stagingDir is a dead
// writer's: a live one holds its file for the time of one small write.
const stagingStale = time.Minute

// createUnnamed is atomicfile.CreateUnnamed; tests replace it to take the
// path of a file system without unnamed files.
var createUnnamed = atomicfile.CreateUnnamed

// testHookLink, when set, runs once a new netns file is written and before
// it is linked into NAME/: where a kill hurts most.
var testHookLink func()

// createSeeded makes the file in the open directory dir (NetnsEtcDir/NAME)
// with the host's content, whole: the content goes to an unnamed file
// (O_TMPFILE) that link(2) then names, so no temporary file ever has a
// name in NAME/, where `ip netns exec` would bind-mount it over /etc and
// complain of it on every run. A writer killed at any point leaves
// nothing: the kernel frees the unnamed file with its last descriptor.
// Where the file system has no unnamed files, the content is written in
// the staging directory instead (createStaged). It reports false when
// another process linked its own first. Equivalent to:
// `ln -T "$(seed of /etc/hosts in an O_TMPFILE)" /etc/netns/NAME/hosts`.
func (f *netnsFile) createSeeded(dir *os.File) (bool, error) {
	seed, err := readHostSeed(filepath.Join(hostEtcDir, f.base))
	if err != nil {
		return false, err
	}
	dirFD := int(dir.Fd())
	u, err := createUnnamed(dirFD, ".", 0o644)
	if errors.Is(err, errors.ErrUnsupported) {
		return f.createStaged(dirFD, seed)
	}
	if err != nil {
		return false, fmt.Errorf("creating %s: %w", f.Path(), err)
	}
	defer u.Close()
	if err := u.File().Chmod(0o644); err != nil {
		return false, err
	}
	if _, err := u.Write(seed); err != nil {
		return false, fmt.Errorf("writing %s: %w", f.Path(), err)
	}
	// No fsync, as for the file's later updates (file.go): the seed of a
	// namespace's runtime file, like `ip netns`'s own files.
	if testHookLink != nil {
		testHookLink()
	}
	ok, err := u.Link(dirFD, f.base)
	if err != nil {
		return false, fmt.Errorf("creating %s: %w", f.Path(), err)
	}
	return ok, nil
}

// createStaged is createSeeded for a file system without unnamed files:
// the seed is written to a temporary file in NetnsEtcDir/.plumb-tmp, which
// is then linked into NAME/ and unlinked. That directory sits beside the
// NAME directories, on the same file system, and is none of them: `ip
// netns exec X` binds the files of X/ only (a namespace named ".plumb-tmp"
// would be the one exception). A writer killed there leaves a file that
// harms nothing, and the next staged write or Remove sweeps it once it is
// older than stagingStale. Equivalent to:
// `mkdir -p /etc/netns/.plumb-tmp; cp /etc/hosts /etc/netns/.plumb-tmp/hosts.RAND;
// ln /etc/netns/.plumb-tmp/hosts.RAND /etc/netns/NAME/hosts; rm /etc/netns/.plumb-tmp/hosts.RAND`.
func (f *netnsFile) createStaged(dirFD int, seed []byte) (bool, error) {
	stage, err := f.openStaging()
	if err != nil {
		return false, err
	}
	defer stage.Close()
	sweepStaging(stage)
	stageFD := int(stage.Fd())
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := f.base + "." + hex.EncodeToString(rnd[:])
	tmpPath := filepath.Join(stage.Name(), tmp)
	fd, err := openBeneath(stageFD, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		return false, &os.PathError{Op: "create", Path: tmpPath, Err: err}
	}
	t := os.NewFile(uintptr(fd), tmpPath)
	defer func() {
		t.Close()
		_ = unix.Unlinkat(stageFD, tmp, 0)
	}()
	if err := t.Chmod(0o644); err != nil {
		return false, err
	}
	if _, err := t.Write(seed); err != nil {
		return false, fmt.Errorf("writing %s: %w", tmpPath, err)
	}
	if testHookLink != nil {
		testHookLink()
	}
	err = unix.Linkat(stageFD, tmp, dirFD, f.base, 0)
	if errors.Is(err, unix.EEXIST) {
		return false, nil
	}
	if err != nil {
		return false, &os.PathError{Op: "link", Path: f.Path(), Err: err}
	}
	return true, nil
}

// readHostSeed reads the host's file (nil when it does not exist).
func readHostSeed(path string) ([]byte, error) {
	h, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s to seed a netns copy: %w", path, err)
	}
	defer h.Close()
	if err := checkRegular(h); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(h, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s to seed a netns copy: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}

// openStaging opens NetnsEtcDir/.plumb-tmp (0700), creating it if needed.
func (f *netnsFile) openStaging() (*os.File, error) {
	top, err := unix.Open(f.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: f.dir, Err: err}
	}
	defer unix.Close(top)
	path := filepath.Join(f.dir, stagingDir)
	if err := unix.Mkdirat(top, stagingDir, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	fd, err := openBeneath(top, stagingDir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// sweepStaging removes the files in the open staging directory that are
// older than stagingStale. Best effort: they harm nothing meanwhile.
func sweepStaging(stage *os.File) {
	ents, err := stage.Readdirnames(-1)
	if err != nil {
		return
	}
	for _, e := range ents {
		var st unix.Stat_t
		if unix.Fstatat(int(stage.Fd()), e, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			continue
		}
		if time.Since(time.Unix(st.Mtim.Unix())) > stagingStale {
			_ = unix.Unlinkat(int(stage.Fd()), e, 0)
		}
	}
}

// removeStaging sweeps NetnsEtcDir/.plumb-tmp, then removes it if empty.
// top is NetnsEtcDir, open.
func removeStaging(top *os.File) {
	fd, err := openBeneath(int(top.Fd()), stagingDir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return
	}
	stage := os.NewFile(uintptr(fd), filepath.Join(top.Name(), stagingDir))
	sweepStaging(stage)
	stage.Close()
	_ = unix.Unlinkat(int(top.Fd()), stagingDir, unix.AT_REMOVEDIR)
}
