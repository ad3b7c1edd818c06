r"""Running the programs under test and waiting for what they print, without
sleeping: Proc keeps every output line with the moment it was read, and
expect() waits for a line that matches. Python standard library only.

    proc = Proc("server", [server, "0"])
    m, when = proc.expect(r"listening on port (\d+)")
    proc.stop()              # SIGTERM, SIGKILL if need be; fails on a sanitizer report
"""

import os
import queue
import re
import signal
import subprocess
import threading
import time

SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")


def sh(*argv, check=True):
    """Runs a command, returns its stdout; raises with its stderr on failure."""
    done = subprocess.run(argv, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


class Proc:
    """A started program whose output lines are collected as they arrive.

    Every line is kept with the monotonic time it was read, so a caller can
    wait for a line and know when it came, without sleeping. echo, when given,
    is called with (name, line) from the reading thread as each line arrives.
    """

    def __init__(self, name, argv, echo=None, stderr_separately=False, **popen_kwargs):
        self.name = name
        self.argv = argv
        self.lines = []  # (monotonic time, line), in order
        self._queue = queue.Queue()
        self._echo = echo
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr_separately else subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches us, and we clean up
            **popen_kwargs,
        )
        self.stderr_lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.popen.stdout, self._queue),
                                        daemon=True)
        self._reader.start()
        if stderr_separately:
            threading.Thread(target=self._read, args=(self.popen.stderr, self.stderr_lines),
                             daemon=True).start()

    def _read(self, stream, sink):
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            when = time.monotonic()
            if self._echo is not None:
                # Live, as the line arrives, and before expect() can see it:
                # what a caller prints after expect() comes after it.
                self._echo(self.name, line)
            sink.put((when, line))
        sink.put((time.monotonic(), None))

    def expect(self, pattern, timeout=30.0):
        """Waits for an output line matching pattern (a regex).

        Returns (match, monotonic time the line was read). The timeout is a
        safety net against a hung program, not a measurement: it raises
        AssertionError with everything the program printed.
        """
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                when, line = self._queue.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(
                    f"{self.name}: no line matching {pattern!r} within {timeout} s; "
                    f"output so far:\n{self.transcript()}") from None
            if line is None:
                self._queue.put((when, None))  # keep end-of-output visible
                raise AssertionError(
                    f"{self.name}: ended (status {self.popen.wait()}) without a line matching "
                    f"{pattern!r}; output:\n{self.transcript()}")
            self.lines.append((when, line))
            m = rx.search(line)
            if m:
                return m, when

    def drain(self):
        """Takes every line that has already arrived (echoing it), without waiting."""
        while True:
            try:
                when, line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._queue.put((when, None))
                return
            self.lines.append((when, line))

    def wait(self, timeout=30.0):
        """Waits for the program to exit; returns its status (safety timeout)."""
        status = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=5)
        self.drain()
        return status

    def transcript(self):
        self.drain()
        return "\n".join(f"  | {line}" for _, line in self.lines)

    def signal(self, signo):
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signo)

    def stop(self):
        """Ends the program (SIGTERM, then SIGKILL) and reaps it.

        Raises AssertionError when the program printed a sanitizer report
        (AddressSanitizer, LeakSanitizer, UBSan) at any time, exit included.
        """
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait()
        self._reader.join(timeout=5)
        self.drain()
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        if any(SANITIZER_REPORT.search(line) for _, line in self.lines):
            raise AssertionError(f"{self.name}: sanitizer report:\n{self.transcript()}")
