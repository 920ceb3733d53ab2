package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kopilka/kopilka/internal/transfer"
)

func TestRenderBar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    transfer.Progress
		took time.Duration
		want string
	}{
		{"Start", transfer.Progress{Phase: "checking", RowsTotal: -1}, 0,
			"[------------------------------]   0% checking 0 rows"},
		{"Half", transfer.Progress{Phase: "importing", Rows: 500, RowsTotal: 1000, Percent: 62, Bad: 2}, 2 * time.Second,
			"[##################------------]  62% importing 500/1000 rows, 2 bad, 250 rows/s"},
		{"Done", transfer.Progress{Phase: "importing", Rows: 1000, RowsTotal: 1000, Percent: 100}, time.Second,
			"[##############################] 100% importing 1000/1000 rows, 1000 rows/s"},
	}
	for _, tc := range tests {
		if got := renderBar(tc.p, tc.took); got != tc.want {
			t.Errorf("renderBar(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestBarOnlyOnTerminals: a bar draws nothing on a pipe or a buffer.
func TestBarOnlyOnTerminals(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	b := newBar(&buf)
	b.update(transfer.Progress{Phase: "importing", Percent: 50})
	b.clear()
	if buf.Len() != 0 {
		t.Errorf("bar on a buffer wrote %q, want nothing", buf.String())
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if b := newBar(w); b.w != nil {
		t.Error("newBar(a pipe) draws, want no bar")
	}
	// The negative control: a bar given a writer draws.
	var out bytes.Buffer
	drawn := &bar{w: &out}
	drawn.update(transfer.Progress{Phase: "importing", Percent: 50})
	if !strings.Contains(out.String(), " 50% importing") {
		t.Errorf("bar with a writer drew %q, want the progress", out.String())
	}
}
