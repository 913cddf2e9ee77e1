// Command api lists the pending jobs over HTTP on :8080. With -once it
// prints the list to stdout and exits, so that a container test needs no
// network.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"example.com/multi-output/internal/jobs"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	once := flag.Bool("once", false, "print the job list and exit instead of serving")
	flag.Parse()

	if *once {
		writeJobs(os.Stdout)
		return
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/jobs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		writeJobs(w)
	})

	server := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("api: listening on %s", *addr)
	if err := server.ListenAndServe(); err != nil {
		log.Printf("api: %v", err)
		os.Exit(1)
	}
}

func writeJobs(w io.Writer) {
	pending := jobs.Pending()
	fmt.Fprintf(w, "api: %d pending jobs\n", len(pending))
	for _, job := range pending {
		fmt.Fprintln(w, jobs.Describe(job))
	}
}
