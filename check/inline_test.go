package check_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRequestPathInlines pins what the request path's speed rests on: both
// Check methods inline into their callers, so that a request reaches the
// lookup with its fields in registers and the checker adds one load. A
// change that makes either too large for the inliner fails here rather
// than showing up later as a few percent in a benchmark.
func TestRequestPathInlines(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no go command on PATH: %v", err)
		}
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	for _, fn := range []string{"(*Snapshot).Check", "(*Checker).Check"} {
		if !strings.Contains(string(out), "can inline "+fn+"\n") && !strings.Contains(string(out), "can inline "+fn+" ") {
			t.Errorf("%s no longer inlines (go build -gcflags=-m=2 says why); lines naming it:\n%s", fn, grepLines(string(out), fn))
		}
	}
}

// grepLines returns the lines of s that mention sub.
func grepLines(s, sub string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			b.WriteString(line)
		}
	}
	return b.String()
}
