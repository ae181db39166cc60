# expect: WRONG_RESULT
# why: collects answers through a queue with get(timeout=...), and lets queue.Empty escape where TimeoutError is due.
import queue
import threading


def first_result(fns, timeout):
    answers = queue.Queue()

    def run(fn):
        try:
            answers.put((True, fn()))
        except Exception as exc:
            answers.put((False, exc))

    for fn in fns:
        threading.Thread(target=run, args=(fn,), daemon=True).start()
    last_error = None
    for _ in fns:
        ok, value = answers.get(timeout=timeout)
        if ok:
            return value
        last_error = value
    raise last_error
