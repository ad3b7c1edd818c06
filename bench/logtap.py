"""Copies the server's output to a log file as it comes and says on a
second file (a fifo) when something the benchmark waits for has happened:

    up PORT     the server printed "listening on port PORT"
    all-lost    the server has reported N lost clients

Usage: python3 logtap.py LOG EVENTS N  < server-output
(mawk cannot be used for this: it reads its input in blocks, not lines.)
"""

import sys


def main():
    log_path, events_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lost = 0
    up = False
    with open(log_path, "w") as log, open(events_path, "w") as events:
        for line in sys.stdin:
            log.write(line)
            log.flush()
            if not up and line.startswith("listening on port "):
                up = True
                events.write(f"up {line.split()[-1]}\n")
                events.flush()
            elif " lost after " in line:
                lost += 1
                if lost == n:
                    events.write("all-lost\n")
                    events.flush()


if __name__ == "__main__":
    main()
