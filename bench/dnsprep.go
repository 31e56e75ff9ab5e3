package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// prepareDNS makes sure the DNS benchmark's tools are there, installing the
// missing ones with apt-get (from the real host: the worker's netns has no
// way out), and records what it did and the versions in plan. It sets
// plan.DNSSkip when dnsperf is missing and plan.AardvarkSkip when
// aardvark-dns is.
func prepareDNS(ctx context.Context, plan *Plan) {
	if _, err := exec.LookPath("dnsperf"); err != nil {
		if note, err := aptInstall(ctx, "dnsperf"); err != nil {
			plan.DNSSkip = "dnsperf is missing and " + err.Error()
		} else {
			plan.DNSSetup = append(plan.DNSSetup, note)
		}
	}
	if unix.Access(aardvarkBin, unix.X_OK) != nil {
		if note, err := aptInstall(ctx, "aardvark-dns", "netavark"); err != nil {
			plan.AardvarkSkip = aardvarkBin + " is missing and " + err.Error()
		} else if unix.Access(aardvarkBin, unix.X_OK) != nil {
			plan.AardvarkSkip = note + ", but " + aardvarkBin + " is still missing"
		} else {
			plan.DNSSetup = append(plan.DNSSetup, note)
		}
	}
	if plan.DNSSkip == "" {
		out, _ := exec.Command("dnsperf", "-h").CombinedOutput()
		v := "unknown"
		for _, l := range lines(string(out)) {
			if strings.HasPrefix(l, "Version ") {
				v = strings.TrimPrefix(l, "Version ")
			}
		}
		plan.DNSSetup = append(plan.DNSSetup, fmt.Sprintf("dnsperf %s (Debian %s)", v, debVersion("dnsperf")))
	}
	if plan.AardvarkSkip == "" {
		v, _ := stdout(aardvarkBin, "--version") // it complains about syslog on stderr
		plan.DNSSetup = append(plan.DNSSetup, fmt.Sprintf("%s (Debian %s), %s", firstLine(v, nil), debVersion("aardvark-dns"), aardvarkBin))
	}
}

// aptInstall runs `apt-get install -y PKGS` and returns a line for the report.
func aptInstall(ctx context.Context, pkgs ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	argv := append([]string{"install", "-y"}, pkgs...)
	logf("installing %s: apt-get %s", strings.Join(pkgs, " "), strings.Join(argv, " "))
	cmd := exec.CommandContext(ctx, "apt-get", argv...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("`apt-get install -y %s` failed (%v): %s", strings.Join(pkgs, " "), err, tail(out, 300))
	}
	return fmt.Sprintf("the bench installed %s with `apt-get install -y %s` (missing at the start of the run)",
		strings.Join(pkgs, " and "), strings.Join(pkgs, " ")), nil
}

// debVersion is the installed Debian version of pkg.
func debVersion(pkg string) string {
	return firstLine(sh("dpkg-query", "-W", "-f", "${Version}", pkg))
}
