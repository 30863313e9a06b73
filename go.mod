module github.com/openclawd/openclawd

go 1.26.0

require (
	github.com/coder/websocket v1.8.15
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/ulikunitz/xz v0.5.15
