package nsview

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// childEnv makes the test binary a listener inside a namespace instead of
// running tests: it listens on TCP and UDP at the port given, prints
// "ready" and lives until its stdin closes.
const childEnv = "PLUMB_NSVIEW_TEST_LISTEN"

func TestMain(m *testing.M) {
	if port, ok := os.LookupEnv(childEnv); ok {
		os.Exit(runListener(port))
	}
	os.Exit(m.Run())
}

func runListener(port string) int {
	l, err := net.Listen("tcp4", "0.0.0.0:"+port)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	defer l.Close()
	u, err := net.ListenPacket("udp4", "127.0.0.1:"+port)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	defer u.Close()
	os.Stdout.WriteString("ready\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// startListener runs the test binary as a listener on port inside the
// named namespace and returns its pid; t.Cleanup stops it.
func startListener(t *testing.T, ns, port string) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+port)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("listener in %s did not start: %q %v", ns, line, err)
	}
	return cmd.Process.Pid
}
