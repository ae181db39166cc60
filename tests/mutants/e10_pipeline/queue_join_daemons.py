# expect: LEAKED_THREADS
# why: waits with q.join() and never stops the daemon consumers, which stay blocked in get() after pipeline returns.
import queue
import threading


def pipeline(items, stage, n_workers=3):
    q = queue.Queue()
    results = []
    lock = threading.Lock()

    def consume():
        while True:
            item = q.get()
            try:
                out = stage(item)
                with lock:
                    results.append(out)
            finally:
                q.task_done()

    for _ in range(n_workers):
        threading.Thread(target=consume, daemon=True).start()
    for item in items:
        q.put(item)
    q.join()
    return results
