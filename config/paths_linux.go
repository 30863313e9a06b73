package config

// defaultSocket lives in the RuntimeDirectory systemd creates for the unit.
const defaultSocket = "/run/openclawd/openclawd.sock"

func defaultPath() string { return etcPath }

// defaultUser is the service account the packages create.
const defaultUser = "openclawd"
