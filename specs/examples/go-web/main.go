// Command go-web serves a greeting on :8080. With -once it prints the
// greeting to stdout and exits, so that a container test needs no network.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

const greeting = "go-web: hello from stagec"

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	once := flag.Bool("once", false, "print the greeting and exit instead of serving")
	flag.Parse()

	if *once {
		fmt.Println(greeting)
		return
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", handleRoot)
	mux.HandleFunc("/health", handleHealth)

	server := &http.Server{
		Addr:              *addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.Printf("go-web: listening on %s", *addr)
	if err := server.ListenAndServe(); err != nil {
		log.Printf("go-web: %v", err)
		os.Exit(1)
	}
}

func handleRoot(w http.ResponseWriter, r *http.Request) {
	// The pattern "/" matches every path, so reject the ones we do not serve.
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, greeting)
}

func handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}
