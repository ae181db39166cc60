# expect: MISSED_RESULT
# why: zips the items with as_completed, pairing each result with whichever item is next in input order.
from concurrent.futures import ThreadPoolExecutor, as_completed


def process_as_completed(fn, items, on_result, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(fn, item) for item in items]
        for item, future in zip(items, as_completed(futures)):
            on_result(item, future.result())
