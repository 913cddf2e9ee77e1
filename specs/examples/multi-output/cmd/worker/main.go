// Command worker runs every pending job once and exits.
package main

import (
	"fmt"

	"example.com/multi-output/internal/jobs"
)

func main() {
	pending := jobs.Pending()
	for _, job := range pending {
		fmt.Println("worker: done", jobs.Describe(job))
	}
	fmt.Printf("worker: processed %d jobs\n", len(pending))
}
