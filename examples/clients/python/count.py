"""count: adds --counts to a joules.Counter from --threads threads (1 ms pause every 1,000
counts), then flushes (retrying until joulesd took the count) and lingers 1 s, so joulesd can map
the last datagram to this process's service. tests/integration/clients-python.sh runs it."""
import argparse
import sys
import threading
import time

import joules

p = argparse.ArgumentParser()
p.add_argument("--counts", type=int, default=100000)
p.add_argument("--threads", type=int, default=4)
a = p.parse_args()
counter = joules.Counter("requests")


def adder(n):
    for i in range(1, n + 1):
        counter.add(1)
        if i % 1000 == 0:
            time.sleep(0.001)


cpu0 = time.process_time()
threads = [threading.Thread(target=adder, args=(a.counts // a.threads,)) for _ in range(a.threads)]
for t in threads:
    t.start()
for t in threads:
    t.join()
cpu = time.process_time() - cpu0
for k in range(500):
    try:
        counter.flush()
        break
    except OSError as e:
        if k == 499:
            sys.exit(f"count: flush: {e}")
        time.sleep(0.01)
# the loop's CPU time (the process's), sends included: an upper bound on the add's cost
print(f"added {a.counts}; {cpu / a.counts * 1e9:.1f} ns of CPU per count")
time.sleep(1)
