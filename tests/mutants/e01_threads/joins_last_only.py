# expect: MISSED_RESULT
# why: the join sits after the loop, so it only waits for the last thread the loop variable names.
import threading


def run_all(tasks):
    for task in tasks:
        t = threading.Thread(target=task)
        t.start()
    t.join()
