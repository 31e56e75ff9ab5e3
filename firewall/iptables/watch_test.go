package iptables

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A Firewall that cannot tell which iptables it runs (no binary: a fake
// runner) cannot watch.
func TestWatchUnsupportedWithoutVariant(t *testing.T) {
	fw := newFirewall(newFake(), "")
	if err := fw.Watch(context.Background(), func() { t.Error("changed called") }); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Watch with no iptables binary = %v, want ErrUnsupported", err)
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
