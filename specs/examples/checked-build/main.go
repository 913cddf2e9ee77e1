// Command wordfreq prints the most frequent words of its input files, or
// of standard input when no file is given.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"example.com/wordfreq/wordfreq"
)

func main() {
	top := flag.Int("n", 10, "number of words to print; negative prints all")
	flag.Parse()

	if err := run(flag.Args(), *top, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wordfreq:", err)
		os.Exit(1)
	}
}

func run(paths []string, top int, stdin io.Reader, stdout io.Writer) error {
	readers := []io.Reader{stdin}
	if len(paths) > 0 {
		readers = readers[:0]
		for _, path := range paths {
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			// The files stay open until run returns, because MultiReader
			// reads them only after this loop.
			defer file.Close()
			readers = append(readers, file)
		}
	}

	counts, err := wordfreq.Count(io.MultiReader(readers...))
	if err != nil {
		return err
	}
	for _, entry := range wordfreq.Top(counts, top) {
		fmt.Fprintf(stdout, "%d %s\n", entry.Count, entry.Word)
	}
	return nil
}
