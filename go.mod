module github.com/voidbox/voidbox

go 1.26
