package fleetsim

import (
	"sync"
	"time"
)

// sampler reads the server's CPU and the proxy's counters every 200 ms.
type sampler struct {
	cpu  func() int64 // the server's CPU, ns
	px   *proxy
	zero time.Time

	mu      sync.Mutex
	samples []sample
	// the window's peaks, since the last takeWindow
	winOpen  int64
	winCores float64
	quit     chan struct{}
	done     chan struct{}
}

type sample struct {
	t                        time.Time
	ns                       int64 // server CPU
	conns, sent, recvd, open int64
}

const samplePeriod = 200 * time.Millisecond

func startSampler(cpu func() int64, px *proxy) *sampler {
	s := &sampler{cpu: cpu, px: px, zero: time.Now(), quit: make(chan struct{}), done: make(chan struct{})}
	s.samples = append(s.samples, s.read())
	go s.loop()
	return s
}

func (s *sampler) read() sample {
	return sample{t: time.Now(), ns: s.cpu(), conns: s.px.conns.Load(), sent: s.px.sent.Load(),
		recvd: s.px.recvd.Load(), open: s.px.takePeak()}
}

func (s *sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(samplePeriod)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		x := s.read()
		s.mu.Lock()
		s.samples = append(s.samples, x)
		s.winOpen = max(s.winOpen, x.open)
		// The CPU of the last second, for the window's busiest second.
		n := len(s.samples)
		if k := n - 1 - int(time.Second/samplePeriod); k >= 0 {
			p := s.samples[k]
			s.winCores = max(s.winCores, float64(x.ns-p.ns)/1e9/x.t.Sub(p.t).Seconds())
		}
		s.mu.Unlock()
	}
}

func (s *sampler) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
		<-s.done
	}
}

// now is a fresh reading (it does not take the proxy's peak).
func (s *sampler) now() sample {
	return sample{t: time.Now(), ns: s.cpu(), conns: s.px.conns.Load(), sent: s.px.sent.Load(), recvd: s.px.recvd.Load()}
}

// takeWindow returns the busiest second's server CPU (cores) and the most
// connections open at once since the last call, and starts a new window.
func (s *sampler) takeWindow() (cores float64, open int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cores, open = s.winCores, max(s.winOpen, s.px.takePeak())
	s.winCores, s.winOpen = 0, 0
	return cores, open
}

// seconds folds the samples into one row per second since zero.
func (s *sampler) seconds() []Second {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Second
	var prev *sample
	for i := range s.samples {
		x := &s.samples[i]
		sec := int(x.t.Sub(s.zero) / time.Second)
		if sec < 0 {
			prev = x
			continue
		}
		if len(out) == 0 || out[len(out)-1].T != sec {
			out = append(out, Second{T: sec})
		}
		row := &out[len(out)-1]
		row.PeakOpen = max(row.PeakOpen, x.open)
		if prev != nil {
			row.Cores += float64(x.ns-prev.ns) / 1e9
			row.Conns += x.conns - prev.conns
		}
		prev = x
	}
	return out
}
