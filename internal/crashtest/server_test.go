package crashtest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver for the read-only integrity check
)

// server is one `kopilka serve` child process at a time, always on the
// same address and database, so a restart looks to clients like the same
// server coming back.
type server struct {
	t    testing.TB
	bin  string
	db   string
	addr string
	runs int
	cur  *proc
	logs []*logSink // one per run
}

// proc is one run of the server process.
type proc struct {
	cmd     *exec.Cmd
	log     *logSink
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// startInfo says how long a start took: until the process logged that it
// listens, and until /healthz first answered 200.
type startInfo struct {
	listening time.Duration
	healthy   time.Duration
}

// newServer returns a server for db on a free loopback port; it is not
// running yet. The process is stopped when t ends.
func newServer(t testing.TB, bin, db string) *server {
	t.Helper()
	s := &server{t: t, bin: bin, db: db, addr: freeAddr(t)}
	t.Cleanup(func() {
		if s.running() {
			if _, err := s.term(10 * time.Second); err != nil {
				t.Errorf("stop kopilka serve at cleanup: %v", err)
			}
		}
	})
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (s *server) running() bool {
	if s.cur == nil {
		return false
	}
	select {
	case <-s.cur.exited:
		return false
	default:
		return true
	}
}

// start runs the server and waits until /healthz answers 200. It must be
// called from the test goroutine.
func (s *server) start() startInfo {
	s.t.Helper()
	s.runs++
	sink := newLogSink()
	s.logs = append(s.logs, sink)
	cmd := exec.Command(s.bin, "serve", "--db", s.db, "--addr", s.addr, "--log-level", "info")
	cmd.Stdout, cmd.Stderr = sink, sink
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start kopilka serve: %v", err)
	}
	p := &proc{cmd: cmd, log: sink, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	s.cur = p
	limit := time.NewTimer(30 * time.Second)
	defer limit.Stop()
	select {
	case <-sink.ready:
	case <-p.exited:
		s.t.Fatalf("kopilka serve (run %d) exited during start-up: %v\n%s", s.runs, p.waitErr, sink.tail(20))
	case <-limit.C:
		s.t.Fatalf("kopilka serve (run %d) did not log that it listens within 30 s\n%s", s.runs, sink.tail(20))
	}
	info := startInfo{listening: time.Since(begin)}
	if err := waitHealthy(s.addr, p.exited, 30*time.Second); err != nil {
		s.t.Fatalf("kopilka serve (run %d): %v\n%s", s.runs, err, sink.tail(20))
	}
	info.healthy = time.Since(begin)
	return info
}

// waitHealthy polls /healthz until it answers 200, the process exits or
// limit passes.
func waitHealthy(addr string, exited <-chan struct{}, limit time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/healthz did not answer 200 within %v (last: %v)", limit, err)
		}
		select {
		case <-exited:
			return errors.New("the process exited before /healthz answered")
		case <-time.After(5 * time.Millisecond): // polling an outside process
		}
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (s *server) kill() {
	s.t.Helper()
	select {
	case <-s.cur.exited:
		why := "ended by itself"
		if strings.Contains(s.cur.log.tail(40), `"msg":"shutting down"`) {
			// This test sends SIGTERM only in term; someone else did.
			why = "was stopped by a SIGTERM or SIGINT from another process on this machine"
		}
		s.t.Fatalf("kopilka serve (run %d) %s before SIGKILL: %v\n%s", s.runs, why, s.cur.waitErr, s.cur.log.tail(40))
	default:
	}
	if err := s.cur.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatalf("SIGKILL kopilka serve: %v", err)
	}
	<-s.cur.exited
}

// exit is how a process ended after SIGTERM.
type exit struct {
	took time.Duration // from SIGTERM to exit
	err  error         // the process's exit error; nil for exit code 0
}

// term sends SIGTERM and waits for the process to exit, for at most
// limit; past it, it kills the process and returns an error.
func (s *server) term(limit time.Duration) (exit, error) {
	p := s.cur
	begin := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return exit{}, fmt.Errorf("SIGTERM: %w", err)
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.exited:
		return exit{took: time.Since(begin), err: p.waitErr}, nil
	case <-timer.C:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		return exit{took: time.Since(begin), err: p.waitErr},
			fmt.Errorf("the process did not exit within %v of SIGTERM\n%s", limit, p.log.tail(20))
	}
}

// logSink collects a server's log lines and signals the line that says
// it listens.
type logSink struct {
	mu        sync.Mutex
	partial   []byte
	lines     []string
	ready     chan struct{}
	readyOnce sync.Once
}

func newLogSink() *logSink { return &logSink{ready: make(chan struct{})} }

// Write implements io.Writer.
func (l *logSink) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if strings.Contains(line, `"msg":"kopilka serving"`) {
			l.readyOnce.Do(func() { close(l.ready) })
		}
		if len(l.lines) < 5000 {
			l.lines = append(l.lines, line)
		}
	}
	return len(b), nil
}

// tail returns the last n lines.
func (l *logSink) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

// races returns the race detector's reports, if any.
func (l *logSink) races() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, line := range l.lines {
		if strings.Contains(line, "WARNING: DATA RACE") {
			return strings.Join(l.lines[i:min(len(l.lines), i+80)], "\n")
		}
	}
	return ""
}

// problems returns the lines logged at WARN or ERROR.
func (l *logSink) problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
			out = append(out, line)
		}
	}
	return out
}

// runCLI runs a kopilka command and returns its stdout, stderr and exit
// code.
func runCLI(t testing.TB, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run kopilka %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// createTenant runs `kopilka tenant create` and returns the tenant's id
// and admin key.
func createTenant(t testing.TB, bin, db string) (id, key string) {
	t.Helper()
	out, errOut, code := runCLI(t, bin, "tenant", "create", "--name", "Crash test", "--db", db)
	if code != 0 {
		t.Fatalf("kopilka tenant create: exit code %d, want 0\n%s", code, errOut)
	}
	var v struct {
		TenantID string `json:"tenant_id"`
		APIKey   string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.TenantID == "" || v.APIKey == "" {
		t.Fatalf("kopilka tenant create printed %q, want {\"tenant_id\":…,\"api_key\":…} (%v)", out, err)
	}
	return v.TenantID, v.APIKey
}

// integrityCheck opens a SQLite file read-only and returns the answer of
// PRAGMA integrity_check ("ok" when the file is sound).
func integrityCheck(path string) (string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return "", err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "; "), rows.Err()
}

// TestIntegrityCheck is the negative control of integrityCheck: it answers
// ok for a sound file and something else for a damaged one.
func TestIntegrityCheck(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)",
		"CREATE INDEX t_v ON t (v)",
		"INSERT INTO t (v) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) SELECT printf('value %08d', i) FROM n",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	if got, err := integrityCheck(path); err != nil || got != "ok" {
		t.Fatalf("integrityCheck(sound file) = %q, %v; want ok", got, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte{0x5a}, 600)
	for _, page := range []int64{3, 6, 9} { // table and index pages past the schema
		if _, err := f.WriteAt(junk, page*4096+200); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if got, err := integrityCheck(path); err == nil && got == "ok" {
		t.Errorf("integrityCheck(damaged file) = ok, want a complaint")
	} else {
		t.Logf("integrityCheck(damaged file) = %.100q…, %v", got, err)
	}
}
