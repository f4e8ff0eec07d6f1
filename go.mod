module github.com/voidbox/voidbox

go 1.26.0

require (
	github.com/hashicorp/yamux v0.1.2 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
