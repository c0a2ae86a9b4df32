package initsys

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// maxPage bounds what get reads: Falco's /metrics is tens of KB.
const maxPage = 16 << 20

// get fetches a page of Falco's own web server on the loopback address, in
// plain HTTP/1.0. It does not use net/http: that package brings TLS and
// X.509 into the command line, a third of the start-up time of every
// `rulekeeper apply`, for two GETs to 127.0.0.1.
func get(ctx context.Context, port int, path string) (string, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port); err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	r := textproto.NewReader(bufio.NewReader(io.LimitReader(conn, maxPage)))
	status, err := r.ReadLine()
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	proto, code, _ := strings.Cut(status, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") || len(code) < 3 {
		return "", fmt.Errorf("GET %s: not an HTTP answer: %q", url, status)
	}
	h, err := r.ReadMIMEHeader()
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	// An HTTP/1.0 answer ends where the server closes the connection, or
	// after Content-Length bytes when the server says so.
	body := io.Reader(r.R)
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil {
		body = io.LimitReader(body, n)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	if code[:3] != "200" {
		return "", fmt.Errorf("GET %s: %s", url, code)
	}
	return string(b), nil
}
