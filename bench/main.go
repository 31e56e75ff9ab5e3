package main

import (
	"fmt"
	"os"
)

// envInNetns, when set, makes this process the worker: it names the netns
// the supervisor started it in.
const envInNetns = "BENCH_IN_NETNS"

// envPlan names the worker's plan file.
const envPlan = "BENCH_PLAN"

func main() {
	if t := os.Getenv(envTool); t != "" {
		os.Exit(toolMain(t, os.Args[1:]))
	}
	if host := os.Getenv(envInNetns); host != "" {
		os.Exit(workerMain(host, os.Getenv(envPlan)))
	}
	os.Exit(supervisorMain(os.Args[1:]))
}

// logf prints a progress line on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
