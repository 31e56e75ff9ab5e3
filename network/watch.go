package network

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// WatchStore calls changed whenever a network's directory appears in or
// leaves the state directory, until ctx ends (then nil): a create renames
// a whole directory into place and an rm removes it, so a create or rm
// killed half way is heard even though the kernel saw nothing change. The
// daemon's reconciler compares the store with the kernel then. It creates
// STATEDIR/networks when missing. Equivalent to:
//
//	inotifywait -m -e create,moved_to,delete,moved_from STATEDIR/networks
func (m *Manager) WatchStore(ctx context.Context, changed func()) error {
	dir := m.networksDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watching %s: inotify: %w", dir, err)
	}
	// Non-blocking, so reads wait in the runtime's poller and Close ends one.
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	const mask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_ONLYDIR
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		return fmt.Errorf("watching %s: %w", dir, err)
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := f.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("watching %s: %w", dir, err)
		}
		if n > 0 {
			// Which network does not matter: the reconciler looks at all.
			changed()
		}
	}
}
