// Package joules counts requests for joulesd: an aggregating counter sending its total to the
// ingest socket every 100 ms. Standard library only; public domain (CC0), copy it. joulesd learns
// the sending service from the kernel (SO_PASSCRED on its socket): nothing to configure.
//
//	var requests = joules.NewCounter("requests")
//	requests.Add(1)       // per request, from any goroutine: one atomic add
//	defer requests.Flush() // at exit: send what is left
package joules

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Counter accumulates counts; a goroutine started on the first Add sends them every 100 ms.
type Counter struct {
	name    string
	pending atomic.Uint64
	start   sync.Once
	mu      sync.Mutex // held by whoever sends
	conn    *net.UnixConn
}

// NewCounter makes a counter for a metric name (letters, digits, '_', '.', '-').
func NewCounter(name string) *Counter { return &Counter{name: name} }

// Add counts n. It never blocks and never fails: a count that cannot be sent yet is kept.
func (c *Counter) Add(n uint64) {
	c.pending.Add(n)
	c.start.Do(func() {
		go func() {
			for range time.Tick(100 * time.Millisecond) {
				c.Flush()
			}
		}()
	})
}

// Flush sends what is counted now; on error (joulesd down, its queue full) the count is kept.
func (c *Counter) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.pending.Swap(0)
	if n == 0 {
		return nil
	}
	if err := c.send(n); err != nil {
		c.pending.Add(n)
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) ||
			errors.Is(err, syscall.ENOTCONN) { // joulesd restarted: a new socket next time
			c.conn.Close()
			c.conn = nil
		}
		return err
	}
	return nil
}

func (c *Counter) send(n uint64) error {
	if path := os.Getenv("JOULES_INGEST_SOCKET"); c.conn == nil {
		if path == "" {
			path = "/run/joules/ingest.sock"
		}
		conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			return err
		}
		c.conn = conn
	}
	c.conn.SetWriteDeadline(time.Now().Add(20 * time.Millisecond)) // a full queue: try later
	_, err := fmt.Fprintf(c.conn, "%s:%d|c", c.name, n)
	return err
}
