# expect: HANG
# why: idle consumers poll get_nowait() in a loop until every item is processed, spinning instead of blocking on the queue.
import queue
import threading


def pipeline(items, stage, n_workers=3):
    items = list(items)
    q = queue.Queue()
    for job in enumerate(items):
        q.put(job)
    results = []
    errors = {}
    lock = threading.Lock()
    processed = 0

    def consume():
        nonlocal processed
        while processed < len(items):
            try:
                i, item = q.get_nowait()
            except queue.Empty:
                continue
            try:
                out = stage(item)
            except Exception as exc:
                with lock:
                    errors[i] = exc
            else:
                with lock:
                    results.append(out)
            with lock:
                processed += 1

    workers = [threading.Thread(target=consume) for _ in range(n_workers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[min(errors)]
    return results
