package fleetsim

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// proxy sits between the agents and the git server on 127.0.0.1: it counts
// the bytes each way, the connections (one per poll: `git daemon` serves
// one request per connection, and the web server is set to close after
// each answer), and how many are open at once. It costs the harness's CPU,
// not the server's.
type proxy struct {
	ln       net.Listener
	upstream string
	sent     atomic.Int64 // agents → server
	recvd    atomic.Int64 // server → agents
	conns    atomic.Int64 // connections accepted
	open     atomic.Int64 // connections open now
	mu       sync.Mutex
	peak     int64 // most open at once since the last takePeak
	wg       sync.WaitGroup
}

func startProxy(upstream string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, upstream: upstream}
	p.wg.Go(p.accept)
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) close() { p.ln.Close(); p.wg.Wait() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		n := p.open.Add(1)
		p.mu.Lock()
		p.peak = max(p.peak, n)
		p.mu.Unlock()
		go p.serve(c)
	}
}

func (p *proxy) serve(c net.Conn) {
	defer p.open.Add(-1)
	defer c.Close()
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		n, _ := io.Copy(up, c)
		p.sent.Add(n)
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	n, _ := io.Copy(c, up)
	p.recvd.Add(n)
	c.(*net.TCPConn).CloseWrite()
	<-done
}

// takePeak returns the most connections open at once since the last call.
func (p *proxy) takePeak() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := max(p.peak, p.open.Load())
	p.peak = p.open.Load()
	return v
}
