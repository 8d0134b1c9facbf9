// Command noop does nothing. make build builds it with the agents' flags,
// and the bench times it as the floor of any agent Pacemaker starts as a Go
// process: the runtime starting a static binary and exiting.
package main

func main() {}
