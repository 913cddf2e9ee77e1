// Package jobs is the code that the api and worker commands share.
package jobs

import "fmt"

// Job is one unit of work.
type Job struct {
	ID   int
	Name string
}

// Pending returns the jobs waiting to run. A real service would read them
// from a queue, but a fixed list keeps the example free of dependencies.
func Pending() []Job {
	return []Job{
		{ID: 1, Name: "resize-images"},
		{ID: 2, Name: "send-digest"},
		{ID: 3, Name: "prune-cache"},
	}
}

// Describe returns a one-line description of a job.
func Describe(job Job) string {
	return fmt.Sprintf("job %d: %s", job.ID, job.Name)
}
