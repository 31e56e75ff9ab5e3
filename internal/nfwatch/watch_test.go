package nfwatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/testutil"
)

// Watch calls changed once when it listens and once per transaction, and
// returns nil, leaving no goroutine, when its context ends.
func TestPrivilegedWatchEndsWithContext(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	errc := testutil.GoInNS(t, name, func() error { return Watch(ctx, func() { calls.Add(1) }) })
	testutil.WaitFor(t, "the first call", func() bool { return calls.Load() == 1 })
	inNS(t, name, "iptables", "-A", "INPUT", "-j", "ACCEPT")
	testutil.WaitFor(t, "the call for iptables -A", func() bool { return calls.Load() == 2 })
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Watch: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return within 10 s of its context's end")
	}
	testutil.WaitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err         error
		unsupported bool
	}{
		{fmt.Errorf("join-group: %w", unix.EPERM), true},
		{unix.EPROTONOSUPPORT, true},
		{unix.EMFILE, false},
	} {
		err := classify("joining", c.err)
		if got := errors.Is(err, errors.ErrUnsupported); got != c.unsupported {
			t.Errorf("classify(%v): unsupported %v, want %v", c.err, got, c.unsupported)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("classify(%v) = %v: does not wrap it", c.err, err)
		}
	}
}

func TestDecodeGen(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.Uint32(unix.NFTA_GEN_ID, 42)
	ae.Uint32(unix.NFTA_GEN_PROC_PID, 7)
	ae.String(unix.NFTA_GEN_PROC_NAME, "iptables")
	attrs, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m := netlink.Message{Header: netlink.Header{Type: genType}, Data: append([]byte{unix.AF_UNSPEC, 0, 0, 0}, attrs...)}
	if g, ok := decodeGen(m); !ok || g != (Gen{ID: 42, PID: 7, Comm: "iptables"}) {
		t.Errorf("decodeGen = %+v, %v", g, ok)
	}
	m.Header.Type = netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWRULE)
	if _, ok := decodeGen(m); ok {
		t.Error("decodeGen took a NEWRULE for a NEWGEN")
	}
}
