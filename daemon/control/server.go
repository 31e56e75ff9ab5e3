package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// RequestTimeout bounds how long the server waits for the next request on
// a connection, and for writing its reply.
const RequestTimeout = 10 * time.Second

// Handler answers one request.
type Handler func(Request) Reply

// Serve accepts connections on ln and answers each request with h, one
// connection per goroutine, until ctx ends; then it closes ln and every
// connection, waits for their handlers to return, and returns. A request
// that does not decode gets a reply with an error and ends its
// connection; a client silent for RequestTimeout is dropped.
func Serve(ctx context.Context, ln net.Listener, h Handler) {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			continue
		}
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			c.Close()
			break
		}
		conns[c] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveConn(c, h)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
}

func serveConn(c net.Conn, h Handler) {
	defer c.Close()
	dec := json.NewDecoder(c)
	enc := json.NewEncoder(c)
	for {
		c.SetDeadline(time.Now().Add(RequestTimeout))
		var req Request
		if err := dec.Decode(&req); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
				enc.Encode(Reply{Error: "bad request: " + err.Error()})
			}
			return
		}
		if err := enc.Encode(h(req)); err != nil {
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
