# expect: MISSED_RESULT
# why: waits for every task before calling back at all, so no callback runs while the slow task is still going.
from concurrent.futures import ThreadPoolExecutor, as_completed, wait


def process_as_completed(fn, items, on_result, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {pool.submit(fn, item): item for item in items}
        wait(futures)
        for future in as_completed(futures):
            on_result(futures[future], future.result())
