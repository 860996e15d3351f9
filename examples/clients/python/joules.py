"""Counts requests for joulesd: an aggregating counter sending its total to the ingest socket
every 100 ms from a daemon thread, and at exit. Standard library only; public domain (CC0), copy
it. joulesd learns the sending service from the kernel (SO_PASSCRED on its socket).

    requests = joules.Counter("requests")
    requests.add()        # per request, from any thread
"""
import atexit
import collections
import errno
import os
import socket
import threading


class Counter:
    def __init__(self, name):
        self.name = name
        self._adds = collections.deque()  # append and popleft are atomic: no lock per count
        self._kept = 0  # counted but not sent yet (joulesd down, its queue full)
        self._lock = threading.Lock()  # held by whoever sends
        self._sock = None
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="joules-counter", daemon=True).start()
        atexit.register(self._run_once)

    def add(self, n=1):
        """Counts n. Never blocks, never fails: a count that cannot be sent yet is kept."""
        self._adds.append(n)

    def _run(self):
        while not self._stop.wait(0.1):
            self._run_once()

    def _run_once(self):
        try:
            self.flush()
        except OSError:
            pass  # kept for the next one

    def flush(self):
        """Sends what is counted now; raises OSError (the count kept) when it cannot."""
        with self._lock:
            n, adds = self._kept, self._adds
            while adds:
                n += adds.popleft()
            self._kept = 0
            if n == 0:
                return
            try:
                if self._sock is None:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    s.setblocking(False)
                    try:
                        s.connect(os.environ.get("JOULES_INGEST_SOCKET")
                                  or "/run/joules/ingest.sock")
                    except OSError:
                        s.close()
                        raise
                    self._sock = s
                self._sock.send(f"{self.name}:{n}|c".encode())
            except OSError as e:
                self._kept = n
                if e.errno != errno.EAGAIN:  # joulesd restarted or not there: a new socket
                    if self._sock is not None:
                        self._sock.close()
                    self._sock = None
                raise
