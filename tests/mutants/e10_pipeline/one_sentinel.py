# expect: DEADLOCK
# why: puts a single sentinel for all consumers; the first stops, the others wait forever and the join never returns.
import queue
import threading

STOP = object()


def pipeline(items, stage, n_workers=3):
    q = queue.Queue()
    results = []
    lock = threading.Lock()

    def consume():
        while True:
            item = q.get()
            if item is STOP:
                return
            out = stage(item)
            with lock:
                results.append(out)

    workers = [threading.Thread(target=consume) for _ in range(n_workers)]
    for w in workers:
        w.start()
    for item in items:
        q.put(item)
    q.put(STOP)
    for w in workers:
        w.join()
    return results
