// count: adds --counts to a joules.Counter from --threads goroutines, then flushes (retrying
// until joulesd took the count) and lingers, so joulesd can map the last datagram to this
// process's service. The integration test tests/integration/clients-go.sh runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"joules.example/clients/joules"
)

func main() {
	name := flag.String("name", "requests", "metric name")
	counts := flag.Int("counts", 100000, "counts in all")
	goroutines := flag.Int("threads", 4, "goroutines adding")
	linger := flag.Duration("linger", time.Second, "time to stay alive after the flush")
	flag.Parse()
	c := joules.NewCounter(*name)
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	var wg sync.WaitGroup
	for g := 0; g < *goroutines; g++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				c.Add(1)
				if i%1000 == 0 {
					time.Sleep(time.Millisecond) // a steady pace, not one burst
				}
			}
		}(*counts / *goroutines)
	}
	wg.Wait()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	var err error
	for k := 0; k < 500; k++ {
		if err = c.Flush(); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "count: flush:", err)
		os.Exit(1)
	}
	// the loop's CPU time (the process's), sends included: an upper bound on the add's cost
	fmt.Printf("added %d; %.1f ns of CPU per count\n", *counts, float64(cpu)/float64(*counts))
	time.Sleep(*linger)
}
