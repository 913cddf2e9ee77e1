// Command greet prints a greeting and the version it was built with.
package main

import (
	"flag"
	"fmt"
)

// version is set at link time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	name := flag.String("name", "world", "who to greet")
	flag.Parse()

	fmt.Printf("greet %s: hello, %s\n", version, *name)
}
