# expect: MISSED_RESULT
# why: sends the sentinels but returns without joining the consumers, so results still being computed are missing.
import queue
import threading

STOP = object()


def pipeline(items, stage, n_workers=3):
    q = queue.Queue()
    results = []

    def consume():
        while (item := q.get()) is not STOP:
            results.append(stage(item))

    for _ in range(n_workers):
        threading.Thread(target=consume).start()
    for item in items:
        q.put(item)
    for _ in range(n_workers):
        q.put(STOP)
    return results
