package service

import (
	"context"
	"os"
)

func createGroup(name string) error {
	return runTool(context.Background(), "groupadd", "--system", name)
}

func createUser(name, home string) error {
	shell := "/usr/sbin/nologin"
	if _, err := os.Stat(shell); err != nil {
		shell = "/sbin/nologin"
	}
	return runTool(context.Background(), "useradd", "--system", "--gid", name, "--home-dir", home,
		"--no-create-home", "--shell", shell, "--comment", "openclawd (OpenClaw gateway)", name)
}
