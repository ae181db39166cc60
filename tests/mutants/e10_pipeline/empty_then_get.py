# expect: DEADLOCK
# why: asks q.empty() before q.get(); two consumers can both see one item left, and the loser blocks in get() forever.
import queue
import threading


def pipeline(items, stage, n_workers=3):
    q = queue.Queue()
    for job in enumerate(items):
        q.put(job)
    results = []
    errors = {}
    lock = threading.Lock()

    def consume():
        while not q.empty():
            i, item = q.get()
            try:
                out = stage(item)
            except Exception as exc:
                with lock:
                    errors[i] = exc
            else:
                with lock:
                    results.append(out)

    workers = [threading.Thread(target=consume) for _ in range(n_workers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[min(errors)]
    return results
