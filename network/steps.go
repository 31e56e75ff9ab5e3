package network

import (
	"errors"
	"fmt"
)

// step is one named step of an operation on state S: do changes the host,
// undo reverses exactly what do did (nil when deleting something a later
// undo deletes anyway, such as a peer's address going with its veth).
type step[S any] struct {
	name string
	do   func(S) error
	undo func(S) error
}

// runSteps runs steps in order on s, each preceded by the fault hook under
// its name. When one fails, the undo of every step that succeeded runs,
// newest first, past errors, and the step's error is returned with theirs.
func runSteps[S any](fault func(string) error, steps []step[S], s S) error {
	for i, st := range steps {
		err := fault(st.name)
		if err == nil {
			err = st.do(s)
		}
		if err == nil {
			continue
		}
		var errs []error
		for j := i - 1; j >= 0; j-- {
			if u := steps[j].undo; u != nil {
				if uerr := u(s); uerr != nil {
					errs = append(errs, uerr)
				}
			}
		}
		if uerr := errors.Join(errs...); uerr != nil {
			return fmt.Errorf("%w (rollback: %v)", err, uerr)
		}
		return err
	}
	return nil
}

// runAll runs every step in order on s, the fault hook first, and keeps
// going past errors: teardowns, whose every step treats "already gone"
// as success. It returns the errors joined.
func runAll[S any](fault func(string) error, steps []step[S], s S) error {
	var errs []error
	for _, st := range steps {
		if err := fault(st.name); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := st.do(s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StepNames lists the names of the steps of operation kind ("create",
// "attach", "detach"), in order: the names the Fault hook is called with.
func StepNames(kind string) []string {
	switch kind {
	case "create":
		return names(createSteps)
	case "attach":
		return names(attachSteps)
	case "detach":
		return append(names(detachSteps), names(finishSteps)...)
	}
	return nil
}

func names[S any](steps []step[S]) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.name
	}
	return out
}
