package firewall

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestFakeLocalnetGuard(t *testing.T) {
	f := NewFake()
	mustOK(t, f.EnsureLocalnetGuard("br-b"))
	mustOK(t, f.EnsureLocalnetGuard("br-a"))
	mustOK(t, f.EnsureLocalnetGuard("br-a")) // twice is fine
	if got := f.Guarded(); !slices.Equal(got, []string{"br-a", "br-b"}) {
		t.Errorf("Guarded = %q", got)
	}
	if got, want := f.String(), "guard br-a\nguard br-b"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	mustOK(t, f.CheckLocalnetGuard("br-a"))
	if err := f.CheckLocalnetGuard("br-c"); err == nil || !strings.Contains(err.Error(), `"br-c"`) {
		t.Errorf("CheckLocalnetGuard of an unguarded bridge = %v", err)
	}

	on := map[string]bool{"br-a": true}
	f.RouteLocalnet = func(br string) bool { return on[br] }
	if err := f.DeleteLocalnetGuard("br-a"); !errors.Is(err, ErrLocalnetOn) {
		t.Errorf("DeleteLocalnetGuard with route_localnet on = %v, want ErrLocalnetOn", err)
	}
	mustOK(t, f.CheckLocalnetGuard("br-a")) // still guarded
	on["br-a"] = false
	mustOK(t, f.DeleteLocalnetGuard("br-a"))
	mustOK(t, f.DeleteLocalnetGuard("br-a")) // gone is success
	mustOK(t, f.DeleteLocalnetGuard("br-b"))
	if !f.Empty() || f.String() != "" {
		t.Errorf("after the last DeleteLocalnetGuard: Empty %v, String %q", f.Empty(), f)
	}
	for _, bad := range []string{"", "br+", "a/b", "..", "sixteen-bytes-xx"} {
		if err := f.EnsureLocalnetGuard(bad); !errors.Is(err, ErrInvalidNetwork) {
			t.Errorf("EnsureLocalnetGuard(%q) = %v, want ErrInvalidNetwork", bad, err)
		}
	}
	f.FailNext("EnsureLocalnetGuard", errors.New("boom"))
	if err := f.EnsureLocalnetGuard("br-a"); err == nil || err.Error() != "boom" || len(f.Guarded()) != 0 {
		t.Errorf("FailNext: %v, guarded %q", err, f.Guarded())
	}
}
