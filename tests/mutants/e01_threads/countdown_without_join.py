# expect: LEAKED_THREADS
# why: waits on a counter instead of joining, so it can return while a thread is still finishing.
import threading


def run_all(tasks):
    remaining = len(tasks)
    done = threading.Condition()

    def runner(task):
        nonlocal remaining
        task()
        with done:
            remaining -= 1
            done.notify_all()

    for task in tasks:
        threading.Thread(target=runner, args=(task,)).start()
    with done:
        while remaining:
            done.wait()
