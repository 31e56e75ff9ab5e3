package network

import "errors"

// undo is a stack of compensating actions. Each step of a multi-step
// operation pushes the action that reverses it; on failure run() plays them
// back newest first and keeps going past errors.
type undo []func() error

func (u *undo) push(f func() error) { *u = append(*u, f) }

// run plays back every action in reverse and returns their errors joined.
func (u *undo) run() error {
	var errs []error
	for i := len(*u) - 1; i >= 0; i-- {
		if err := (*u)[i](); err != nil {
			errs = append(errs, err)
		}
	}
	*u = nil
	return errors.Join(errs...)
}
