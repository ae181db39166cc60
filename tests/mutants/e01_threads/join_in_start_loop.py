# expect: NO_OVERLAP
# why: joins each thread right after starting it, so the tasks run one after another.
import threading


def run_all(tasks):
    for task in tasks:
        t = threading.Thread(target=task)
        t.start()
        t.join()
