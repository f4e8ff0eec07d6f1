module github.com/voidbox/voidbox

go 1.26.0

require (
	github.com/cavaliergopher/cpio v1.0.1
	github.com/therootcompany/xz v1.0.1
	golang.org/x/sync v0.18.0
	golang.org/x/sys v0.50.0
)
