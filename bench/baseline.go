package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultBaseline is the truth section's baseline: main's last commit
// before issue 13's work (af53936, the first, has it as its parent), so
// plumb as it was when ps read the records alone.
const defaultBaseline = "17695de"

// prepareBaseline sets the truth section's baseline plumb in plan: the
// binary -baseline-bin names, or -baseline built into plan.TmpDir. When
// there is none, plan.BaselineSkip says why (the section still times plumb
// ps and doctor). It returns a line for the report's notes.
func prepareBaseline(ctx context.Context, plan *Plan) string {
	if plan.Config.BaselineBin != "" {
		bin, err := filepath.Abs(plan.Config.BaselineBin)
		if err == nil {
			err = unix.Access(bin, unix.X_OK)
		}
		if err != nil {
			plan.BaselineSkip = fmt.Sprintf("-baseline-bin %s: %v", plan.Config.BaselineBin, err)
			return "truth: no baseline: " + plan.BaselineSkip
		}
		plan.BaselinePlumb = bin
		plan.BaselineWhat = "`" + bin + "` (-baseline-bin)" + vcsOf(bin)
		return "truth: the baseline is the binary given with -baseline-bin, " + plan.BaselineWhat + goVersions(bin, plan.Plumb)
	}
	bin, what, err := buildBaseline(ctx, plan.TmpDir, plan.Baseline)
	if err != nil {
		plan.BaselineSkip = fmt.Sprintf("building -baseline %s: %v", plan.Baseline, err)
		return "truth: no baseline: " + plan.BaselineSkip
	}
	plan.BaselinePlumb, plan.BaselineWhat = bin, what
	return fmt.Sprintf("truth: the baseline is plumb at %s, built by the bench from this repository "+
		"(`git archive %s | tar -x`, then `CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath ./cmd/plumb`, "+
		"module cache and Go proxy only) into its temp dir, the sources removed at once, the binary with the dir%s",
		what, plan.Baseline, goVersions(bin, plan.Plumb))
}

// buildBaseline builds plumb at git revision rev of the repository the
// bench runs in (the working directory's) into dir/plumb-baseline, as
// `make build` builds plumb: from an export of the revision's tree (`git
// archive`: nothing of the repository's worktrees, index or refs
// changes), which it removes once built. It returns the binary and the
// revision, abbreviated and with its subject.
func buildBaseline(ctx context.Context, dir, rev string) (bin, what string, err error) {
	repo, err := stdout("git", "rev-parse", "--show-toplevel")
	if err != nil {
		return "", "", errors.New("the working directory is not in a git repository: run the bench from plumb's repository, or give -baseline-bin")
	}
	repo = strings.TrimSpace(repo)
	full, err := stdout("git", "-C", repo, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return "", "", fmt.Errorf("%q is not a commit of %s", rev, repo)
	}
	full = strings.TrimSpace(full)
	what = firstLine(sh("git", "-C", repo, "log", "-1", "--format=%h (%s)", full))
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return "", "", errors.New("no go command in PATH (make bench puts /usr/local/go/bin there), or give -baseline-bin")
	}
	src := filepath.Join(dir, "baseline-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", "", err
	}
	defer os.RemoveAll(src)
	tarball := filepath.Join(dir, "baseline.tar")
	defer os.Remove(tarball)
	if _, err := sh("git", "-C", repo, "archive", "--format=tar", "-o", tarball, full); err != nil {
		return "", "", err
	}
	if _, err := sh("tar", "-x", "-f", tarball, "-C", src); err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "plumb-baseline")
	cmd := exec.CommandContext(ctx, gocmd, "build", "-trimpath", "-o", bin, "./cmd/plumb")
	cmd.Dir = src
	// -buildvcs=false: the export has no .git to stamp from. GOTOOLCHAIN
	// local: the toolchain plumb was built with, never a download.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local")
	if os.Getenv("GOCACHE") == "" && os.Getenv("HOME") == "" && os.Getenv("XDG_CACHE_HOME") == "" {
		cmd.Env = append(cmd.Env, "GOCACHE="+filepath.Join(dir, "baseline-cache"))
	}
	logf("truth: building the baseline plumb at %s", what)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build: %w: %s", err, tail(out, 400))
	}
	return bin, what, nil
}

// vcsOf is the revision a binary was stamped with, as " (vcs.revision
// R)", or "".
func vcsOf(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return " (vcs.revision " + s.Value + ")"
		}
	}
	return ""
}

// goVersions says whether the baseline was built with plumb's Go.
func goVersions(baseline, plumb string) string {
	bv, berr := buildinfo.ReadFile(baseline)
	pv, perr := buildinfo.ReadFile(plumb)
	switch {
	case berr != nil || perr != nil:
		return "; Go versions unknown"
	case bv.GoVersion != pv.GoVersion:
		return fmt.Sprintf("; **with %s, but plumb was built with %s**", bv.GoVersion, pv.GoVersion)
	}
	return ", with " + bv.GoVersion + " as plumb"
}
