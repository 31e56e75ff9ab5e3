package network

import "errors"

// Errors callers branch on. Each is wrapped with the value it is about.
var (
	ErrNotFound      = errors.New("not found")
	ErrExists        = errors.New("already exists")
	ErrInvalid       = errors.New("invalid")
	ErrInUse         = errors.New("in use")
	ErrOverlap       = errors.New("overlaps")
	ErrNotAttached   = errors.New("not attached")
	ErrAlreadyAttach = errors.New("already attached")
)
