# expect: LEAKED_THREADS
# why: waits for a per-task Event instead of joining, so a thread may still be alive when run_all returns.
import threading


def run_all(tasks):
    events = []
    for task in tasks:
        finished = threading.Event()

        def runner(task=task, finished=finished):
            task()
            finished.set()

        events.append(finished)
        threading.Thread(target=runner).start()
    for finished in events:
        finished.wait()
