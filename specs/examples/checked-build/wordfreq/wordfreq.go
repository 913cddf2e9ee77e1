// Package wordfreq counts how often words occur in a text.
package wordfreq

import (
	"bufio"
	"io"
	"sort"
	"strings"
	"unicode"
)

// Entry is a word and the number of times it occurs.
type Entry struct {
	Word  string
	Count int
}

// Count reads r to the end and returns the number of occurrences of each
// word. A word is a run of letters, digits and apostrophes, compared
// without regard to case.
func Count(r io.Reader) (map[string]int, error) {
	counts := make(map[string]int)
	scanner := bufio.NewScanner(r)
	scanner.Split(bufio.ScanWords)
	for scanner.Scan() {
		fields := strings.FieldsFunc(scanner.Text(), func(c rune) bool {
			return !unicode.IsLetter(c) && !unicode.IsDigit(c) && c != '\''
		})
		for _, field := range fields {
			word := strings.ToLower(strings.Trim(field, "'"))
			if word != "" {
				counts[word]++
			}
		}
	}
	return counts, scanner.Err()
}

// Top returns the n most frequent words, most frequent first. Words with
// the same count are sorted alphabetically, so the result is deterministic.
// A negative n returns every word.
func Top(counts map[string]int, n int) []Entry {
	entries := make([]Entry, 0, len(counts))
	for word, count := range counts {
		entries = append(entries, Entry{Word: word, Count: count})
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Count != entries[j].Count {
			return entries[i].Count > entries[j].Count
		}
		return entries[i].Word < entries[j].Word
	})
	if n >= 0 && n < len(entries) {
		entries = entries[:n]
	}
	return entries
}
