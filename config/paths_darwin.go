package config

// defaultSocket: macOS has no /run; launchd daemons use /var/run.
const defaultSocket = "/var/run/openclawd/openclawd.sock"
