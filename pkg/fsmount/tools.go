package fsmount

import (
	"context"
	"errors"
	"strings"

	"github.com/gocf/gocf/pkg/command"
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

// execTools runs the programs through the shared runner: each in a process
// group of its own, killed whole at ctx's end, so a mount.nfs that mount
// started cannot hold the output open past the deadline.
type execTools struct{}

func (execTools) Fsck(ctx context.Context, device, fstype string) (int, string, error) {
	res, err := command.Run(ctx, []string{"fsck", "-t", fstype, "-p", device}, command.Options{Combined: true})
	if err != nil {
		return -1, res.Stdout, err
	}
	return res.Code, res.Stdout, nil
}

func (execTools) Mount(ctx context.Context, device, dir, fstype, options string) (string, error) {
	argv := mountArgv(device, dir, fstype, options)
	res, err := command.Run(ctx, argv, command.Options{Combined: true})
	if err == nil && res.Code != 0 {
		err = errors.New(res.Line())
	}
	return res.Stdout, err
}

func (execTools) FindFS(ctx context.Context, tag, value string) (string, error) {
	flag := "-U"
	if tag == "LABEL" {
		flag = "-L"
	}
	// stdout only: a warning on stderr is no device path.
	res, err := command.Run(ctx, []string{"blkid", flag, value}, command.Options{})
	if err != nil {
		return "", err
	}
	if res.Code != 0 || strings.TrimSpace(res.Stdout) == "" {
		return "", errors.New("no such filesystem")
	}
	return strings.TrimSpace(res.Stdout), nil
}
