// Command fakegateway stands in for the OpenClaw gateway in tests; see
// package fakegateway for its flags, environment, modes and cues.
package main

import "github.com/openclawd/openclawd/internal/fakegateway"

func main() { fakegateway.Main() }
