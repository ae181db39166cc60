# expect: SWALLOWED_EXCEPTION
# why: passes a failed task's exception to on_result as if it were a result, and never raises it.
from concurrent.futures import ThreadPoolExecutor, as_completed


def process_as_completed(fn, items, on_result, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {pool.submit(fn, item): item for item in items}
        for future in as_completed(futures):
            on_result(futures[future], future.exception() or future.result())
