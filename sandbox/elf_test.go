package sandbox

import (
	"bytes"
	"debug/elf"
	"os"
	"testing"
)

// interpByDebugElf is the answer of debug/elf, the oracle (tests only).
func interpByDebugElf(bin []byte) (bool, error) {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true, nil
		}
	}
	return false, nil
}

func TestHasInterpAgreesWithDebugElf(t *testing.T) {
	for _, path := range []string{"/bin/true", "/bin/ls", os.Args[0], "/proc/self/exe"} {
		bin, err := os.ReadFile(path)
		if err != nil {
			t.Logf("%s: %v", path, err)
			continue
		}
		got, err := hasInterp(bin)
		want, werr := interpByDebugElf(bin)
		if err != nil || werr != nil || got != want {
			t.Errorf("%s: HasInterp = %v, %v; debug/elf says %v, %v", path, got, err, want, werr)
		}
	}
}

func TestHasInterpStaticAndBroken(t *testing.T) {
	// A minimal static ELF64: header only, no program headers.
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	if got, err := hasInterp(h); err != nil || got {
		t.Errorf("no program headers: %v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, []byte("#!/bin/sh\n"), append([]byte("\x7fELF\x03\x01"), make([]byte, 64)...)} {
		if _, err := hasInterp(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// Program headers said to lie past the end.
	binary := append([]byte(nil), h...)
	binary[32] = 0xff // e_phoff
	binary[56] = 1    // e_phnum
	binary[54] = 56   // e_phentsize
	if _, err := hasInterp(binary); err == nil {
		t.Error("program headers past the end: no error")
	}
}

// FuzzHasInterp: never panics, and agrees with debug/elf whenever both
// read the file.
func FuzzHasInterp(f *testing.F) {
	if bin, err := os.ReadFile("/bin/true"); err == nil {
		f.Add(bin[:4096])
	}
	f.Fuzz(func(t *testing.T, bin []byte) {
		got, err := hasInterp(bin)
		want, werr := interpByDebugElf(bin)
		if err == nil && werr == nil && got != want {
			t.Errorf("HasInterp = %v, debug/elf %v", got, want)
		}
	})
}
