# expect: MISSED_RESULT
# why: waits on the futures in the order they were submitted, so a slow first item holds back every callback.
from concurrent.futures import ThreadPoolExecutor


def process_as_completed(fn, items, on_result, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [(item, pool.submit(fn, item)) for item in items]
        for item, future in futures:
            on_result(item, future.result())
