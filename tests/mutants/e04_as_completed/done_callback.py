# expect: RACE
# why: uses add_done_callback, so on_result runs in the worker threads, possibly two at once.
from concurrent.futures import ThreadPoolExecutor


def process_as_completed(fn, items, on_result, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for item in items:
            future = pool.submit(fn, item)
            future.add_done_callback(lambda f, item=item: on_result(item, f.result()))
