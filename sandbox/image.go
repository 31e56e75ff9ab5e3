package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/plumbnet/plumb/docker"
)

const (
	// ImageRepo is the repository of the holder image plumb imports
	// from its own binary; the tag is the binary's hash, so each plumb
	// build brings its own.
	ImageRepo = "plumb/sandbox"
	// ImageLabel marks the holder images (`docker images --filter
	// label=org.plumbnet.plumb.sandbox-image` finds them).
	ImageLabel = "org.plumbnet.plumb.sandbox-image"
	// holderPath is where the plumb binary sits in the holder image.
	holderPath = "/plumb"
	// holderUser runs `plumb hold`: waiting for a signal needs no root.
	holderUser = "65534:65534"
)

// selfExe is the binary put in the holder image; tests replace it.
var selfExe = "/proc/self/exe"

// ensureImage returns the holder image for this plumb binary,
// importing it first when dockerd does not have it. Equivalent to:
//
//	tar -c plumb | docker import --change 'CMD ["/plumb","hold"]' - plumb/sandbox:HASH
func ensureImage(ctx context.Context, dc *docker.Client) (string, error) {
	bin, tag, ref, have, err := holderImage(ctx, dc)
	if err != nil || have {
		return ref, err
	}
	layer, err := holderLayer(bin)
	if err != nil {
		return "", err
	}
	if err := dc.ImportImage(ctx, bytes.NewReader(layer), ImageRepo, tag, imageChanges(tag)); err != nil {
		return "", err
	}
	pruneImages(ctx, dc, ref)
	return ref, nil
}

// holderImage reads this plumb binary and looks its holder image up in
// dockerd: the binary, the image's tag and reference, and whether dockerd
// has it already. A binary that could not run in the image (not static) is
// an error.
func holderImage(ctx context.Context, dc *docker.Client) (bin []byte, tag, ref string, have bool, err error) {
	bin, err = os.ReadFile(selfExe)
	if err != nil {
		return nil, "", "", false, fmt.Errorf("reading the plumb binary for the sandbox image: %w", err)
	}
	tag = imageTag(bin)
	ref = ImageRepo + ":" + tag
	if _, err := dc.ImageLabels(ctx, ref); err == nil {
		return bin, tag, ref, true, nil
	} else if !errors.Is(err, docker.ErrNotFound) {
		return nil, "", "", false, err
	}
	if err := checkStatic(bin); err != nil {
		return nil, "", "", false, err
	}
	return bin, tag, ref, false, nil
}

// imageTag is the holder image's tag for the plumb binary bin.
func imageTag(bin []byte) string {
	sum := sha256.Sum256(bin)
	return hex.EncodeToString(sum[:])[:16]
}

// imageChanges are the Dockerfile lines `docker import --change` applies.
func imageChanges(tag string) []string {
	return []string{
		`CMD ["` + holderPath + `", "hold"]`,
		"USER " + holderUser,
		"LABEL " + ImageLabel + "=" + tag,
	}
}

// pruneImages removes the holder images of other plumb builds that
// no container uses any more, so that rebuilding plumb does not pile them
// up. It is best effort: dockerd refuses an image in use, and that is fine.
func pruneImages(ctx context.Context, dc *docker.Client, keep string) {
	refs, err := dc.ImageRefs(ctx, ImageLabel)
	if err != nil {
		return
	}
	for _, r := range refs {
		if r != keep && strings.HasPrefix(r, ImageRepo+":") {
			_ = dc.RemoveImage(ctx, r)
		}
	}
}

// checkStatic refuses a dynamically linked plumb: the holder image has no
// libc, and its container would die at once with a puzzling "no such file".
func checkStatic(bin []byte) error {
	dynamic, err := hasInterp(bin)
	if err != nil {
		return fmt.Errorf("sandbox image: the plumb binary is not an ELF file: %w", err)
	}
	if dynamic {
		return errors.New("sandbox image: this plumb binary is dynamically linked; build it with CGO_ENABLED=0 (make build)")
	}
	return nil
}

// holderLayer is the holder image's root file system: the plumb binary,
// the mount points Docker needs, and empty /etc files that Docker
// bind-mounts over. Every entry belongs to root.
func holderLayer(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	for _, e := range layerEntries(bin) {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: mtime, Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("sandbox image: writing %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("sandbox image: writing %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("sandbox image: %w", err)
	}
	return buf.Bytes(), nil
}

// entry is one file or directory of the holder layer.
type entry struct {
	name string
	mode int64
	data []byte
	dir  bool
}

// layerEntries are the entries of the holder layer, in order.
func layerEntries(bin []byte) []entry {
	return []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "proc/", mode: 0o555, dir: true},
		{name: "sys/", mode: 0o555, dir: true},
		{name: "dev/", mode: 0o755, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "etc/hosts", mode: 0o644},
		{name: "etc/resolv.conf", mode: 0o644},
		{name: "etc/hostname", mode: 0o644},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/:/plumb\nnobody:x:65534:65534:nobody:/:/plumb\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{name: holderPath[1:], mode: 0o755, data: bin},
	}
}
