package main

import "sync"

// Cleanup is a stack of undo steps, run last-in first-out, each at most
// once, whether the run ends normally, on an error or on a signal.
type Cleanup struct {
	mu    sync.Mutex
	steps []func()
}

// Push registers f to run at cleanup time.
func (c *Cleanup) Push(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.steps = append(c.steps, f)
}

// Run runs and forgets every registered step, last first.
func (c *Cleanup) Run() {
	c.mu.Lock()
	steps := c.steps
	c.steps = nil
	c.mu.Unlock()
	for i := len(steps) - 1; i >= 0; i-- {
		steps[i]()
	}
}
