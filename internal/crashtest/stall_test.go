package crashtest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// stallUpload opens a connection, sends a POST whose body is announced
// but never sent, and returns once the server's handler is reading the
// body: with Expect: 100-continue the server says "100 Continue" exactly
// when the handler first reads.
func stallUpload(t *testing.T, addr, key, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n", path, addr, key)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("stalled upload: first answer line = %q, %v; want HTTP/1.1 100 Continue", line, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn
}
