//go:build cgo

// With cgo on, the probe links libc dynamically (a "cgo Go binary"); its
// sockets still come from Go's raw system calls.
package main

// #include <unistd.h>
import "C"

var _ = C.getpid
