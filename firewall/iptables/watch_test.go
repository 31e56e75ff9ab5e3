package iptables

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

func TestWatchUnsupportedWithoutNFT(t *testing.T) {
	fw := newFirewall(newFake(), "")
	if err := fw.Watch(context.Background(), func() {}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Watch with no iptables binary = %v, want ErrUnsupported", err)
	}
	fw.variant = func() (bool, error) { return false, nil }
	called := false
	if err := fw.Watch(context.Background(), func() { called = true }); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Watch under iptables-legacy = %v, want ErrUnsupported", err)
	}
	if called {
		t.Error("Watch under iptables-legacy called changed")
	}
}

func TestExecVariant(t *testing.T) {
	dir := t.TempDir()
	for out, want := range map[string]bool{
		"iptables v1.8.9 (nf_tables)": true,
		"iptables v1.8.9 (legacy)":    false,
		"iptables v1.6.1":             false,
	} {
		path := filepath.Join(dir, "iptables")
		if err := os.WriteFile(path, []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if got, err := execVariant(path); err != nil || got != want {
			t.Errorf("execVariant for %q = %v, %v; want %v", out, got, err, want)
		}
	}
	if _, err := execVariant(filepath.Join(dir, "missing")); err == nil {
		t.Error("execVariant of a missing binary: no error")
	}
}

// TestPrivilegedWatchLegacy runs New with iptables-legacy first in $PATH,
// as on a host whose alternative is legacy: Watch must say unsupported.
func TestPrivilegedWatchLegacy(t *testing.T) {
	testutil.RequirePrivileged(t)
	multi, err := exec.LookPath("xtables-legacy-multi")
	if err != nil {
		t.Skip("no xtables-legacy-multi to play iptables-legacy")
	}
	dir := t.TempDir()
	for _, n := range []string{"iptables", "iptables-save", "iptables-restore"} {
		if err := os.Symlink(multi, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	fw, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Watch(context.Background(), func() {}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Watch under iptables-legacy = %v, want ErrUnsupported", err)
	}
}
