//go:build !linux && !darwin

package config

const defaultSocket = "/var/run/openclawd/openclawd.sock"

func defaultPath() string { return etcPath }

// defaultUser is the service account the packages create.
const defaultUser = "openclawd"
