# expect: MISSED_RESULT
# why: starts every thread but never joins them, so run_all returns while tasks still run.
import threading


def run_all(tasks):
    for task in tasks:
        threading.Thread(target=task).start()
