# expect: SWALLOWED_EXCEPTION
# why: a consumer catches a failing stage and moves on, so the caller never hears about the failure.
import queue
import threading

STOP = object()


def pipeline(items, stage, n_workers=3):
    q = queue.Queue()
    results = []
    lock = threading.Lock()

    def consume():
        while (item := q.get()) is not STOP:
            try:
                out = stage(item)
            except Exception:
                continue
            with lock:
                results.append(out)

    workers = [threading.Thread(target=consume) for _ in range(n_workers)]
    for w in workers:
        w.start()
    for item in items:
        q.put(item)
    for _ in workers:
        q.put(STOP)
    for w in workers:
        w.join()
    return results
