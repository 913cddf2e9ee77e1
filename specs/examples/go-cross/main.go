// Command whereami prints the platform it was compiled for, so that each
// image of a multi-platform build shows which binary it carries.
package main

import (
	"fmt"
	"runtime"
)

func main() {
	fmt.Printf("whereami: built for %s/%s\n", runtime.GOOS, runtime.GOARCH)
}
