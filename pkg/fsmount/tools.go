package fsmount

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
)

// Tools are the programs fsmount runs where no system call does the job.
// Tests substitute them only where the real program cannot run.
type Tools interface {
	// Fsck checks device and returns fsck's exit code and output.
	Fsck(ctx context.Context, device, fstype string) (int, string, error)
	// Mount runs mount(8), for network and FUSE types and the loop option.
	Mount(ctx context.Context, device, dir, fstype, options string) (string, error)
	// FindFS resolves a UUID or LABEL to a device path (blkid).
	FindFS(ctx context.Context, tag, value string) (string, error)
}

type execTools struct{}

func run(ctx context.Context, name string, args ...string) (int, string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return ee.ExitCode(), out.String(), nil
	}
	if err != nil {
		return -1, out.String(), err
	}
	return 0, out.String(), nil
}

func (execTools) Fsck(ctx context.Context, device, fstype string) (int, string, error) {
	return run(ctx, "fsck", "-t", fstype, "-p", device)
}

func (execTools) Mount(ctx context.Context, device, dir, fstype, options string) (string, error) {
	args := []string{"-t", fstype}
	if options != "" {
		args = append(args, "-o", options)
	}
	code, out, err := run(ctx, "mount", append(args, device, dir)...)
	if err == nil && code != 0 {
		err = errors.New(strings.TrimSpace(out))
	}
	return out, err
}

func (execTools) FindFS(ctx context.Context, tag, value string) (string, error) {
	flag := "-U"
	if tag == "LABEL" {
		flag = "-L"
	}
	code, out, err := run(ctx, "blkid", flag, value)
	if err != nil {
		return "", err
	}
	if code != 0 || strings.TrimSpace(out) == "" {
		return "", errors.New("no such filesystem")
	}
	return strings.TrimSpace(out), nil
}
