package wordfreq

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	cases := []struct {
		name string
		text string
		want map[string]int
	}{
		{"empty", "", map[string]int{}},
		{"case folded", "Go go GO", map[string]int{"go": 3}},
		{"punctuation split", "build, test; ship.", map[string]int{"build": 1, "test": 1, "ship": 1}},
		{"apostrophe kept inside", "it's 'quoted'", map[string]int{"it's": 1, "quoted": 1}},
		{"digits are words", "stage 2 of 2", map[string]int{"stage": 1, "2": 2, "of": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Count(strings.NewReader(tc.text))
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Count(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

func TestTopOrdersByCountThenWord(t *testing.T) {
	counts := map[string]int{"b": 2, "a": 2, "c": 5, "d": 1}
	want := []Entry{{"c", 5}, {"a", 2}, {"b", 2}}
	if got := Top(counts, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("Top(counts, 3) = %v, want %v", got, want)
	}
}

func TestTopLimits(t *testing.T) {
	counts := map[string]int{"a": 1, "b": 1}
	for _, tc := range []struct {
		n    int
		want int
	}{{0, 0}, {1, 1}, {5, 2}, {-1, 2}} {
		if got := len(Top(counts, tc.n)); got != tc.want {
			t.Errorf("len(Top(counts, %d)) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestSampleTopWords(t *testing.T) {
	file, err := os.Open("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	counts, err := Count(file)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	want := []Entry{{"the", 9}, {"stage", 4}, {"image", 3}}
	if got := Top(counts, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("Top(sample, 3) = %v, want %v", got, want)
	}
}
