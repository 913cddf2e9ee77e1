package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunReadsStdinWithoutPaths(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, 2, strings.NewReader("b a b c b a"), &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	if got, want := out.String(), "3 b\n2 a\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}

func TestRunReportsMissingFile(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"testdata/does-not-exist"}, 1, strings.NewReader(""), &out); err == nil {
		t.Error("run with a missing file returned no error")
	}
}
