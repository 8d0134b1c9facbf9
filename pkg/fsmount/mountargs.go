package fsmount

// mountArgv is mount(8)'s argument list for a network, FUSE or loop mount.
// "--" ends the options, so a source or mount point beginning with '-' is
// never read as one, whatever got past the configuration checks.
func mountArgv(device, dir, fstype, options string) []string {
	argv := []string{"mount", "-t", fstype}
	if options != "" {
		argv = append(argv, "-o", options)
	}
	return append(argv, "--", device, dir)
}
