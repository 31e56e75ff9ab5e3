package sandbox

// The static-binary check reads the ELF header and program headers with
// encoding/binary rather than debug/elf: debug/elf links debug/dwarf,
// compress/zlib and internal/zstd, whose initialisers every plumb command
// paid for at start (0.13 ms; bench/results/REPORT-floors.md).

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// hasInterp reports whether the ELF file bin asks for a program
// interpreter, i.e. is dynamically linked: it has a PT_INTERP program
// header. Equivalent to: `readelf -l BIN | grep -q INTERP`. An error says
// bin is not an ELF file, or is cut short.
func hasInterp(bin []byte) (bool, error) {
	const ptInterp = 3
	if len(bin) < 64 || string(bin[:4]) != "\x7fELF" {
		return false, errors.New("bad magic number")
	}
	var bo binary.ByteOrder
	switch bin[5] { // EI_DATA
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return false, fmt.Errorf("unknown ELF data encoding %d", bin[5])
	}
	var off uint64
	var size, n int
	switch bin[4] { // EI_CLASS: where e_phoff, e_phentsize and e_phnum sit
	case 1:
		off, size, n = uint64(bo.Uint32(bin[28:])), int(bo.Uint16(bin[42:])), int(bo.Uint16(bin[44:]))
	case 2:
		off, size, n = bo.Uint64(bin[32:]), int(bo.Uint16(bin[54:])), int(bo.Uint16(bin[56:]))
	default:
		return false, fmt.Errorf("unknown ELF class %d", bin[4])
	}
	if n > 0 && size < 4 {
		return false, fmt.Errorf("program header size %d", size)
	}
	for i := range n {
		p := off + uint64(i)*uint64(size)
		if p < off || p+4 > uint64(len(bin)) {
			return false, errors.New("program headers past the end of the file")
		}
		if bo.Uint32(bin[p:]) == ptInterp {
			return true, nil
		}
	}
	return false, nil
}
