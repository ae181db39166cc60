# expect: NO_OVERLAP
# why: submits a task and waits for it before submitting the next, so nothing runs concurrently.
from concurrent.futures import ThreadPoolExecutor


def process_as_completed(fn, items, on_result, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for item in items:
            on_result(item, pool.submit(fn, item).result())
