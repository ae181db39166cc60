# expect: MISSED_RESULT
# why: uses `if not item: break` as the stop test, so the item 0 is taken for a sentinel and its consumer quits early.
import queue
import threading


def pipeline(items, stage, n_workers=3):
    q = queue.Queue()
    results = []
    lock = threading.Lock()

    def consume():
        while True:
            item = q.get()
            if not item:
                break
            out = stage(item)
            with lock:
                results.append(out)

    workers = [threading.Thread(target=consume) for _ in range(n_workers)]
    for w in workers:
        w.start()
    for item in items:
        q.put(item)
    for _ in workers:
        q.put(None)
    for w in workers:
        w.join()
    return results
