//go:build !linux

package dns

import "net"

// sysBatch is empty where there is no recvmmsg: plainConn needs nothing.
type sysBatch struct{}

func (s *sysBatch) init(*batch) {}

// newBatchConn reads and writes one datagram at a time.
func newBatchConn(pc net.PacketConn) batchConn { return &plainConn{pc: pc} }
