// Package script builds the shell script a --dry-run prints: the commands,
// files and comments an operation stands for, in order, quoted so that a
// user can paste the whole into a root shell (bash or any POSIX sh). It is
// a leaf: it knows shell quoting and here-documents, nothing of networks.
package script
