# expect: MISSED_RESULT
# why: numbers the futures as they complete and looks the item up by that number, filing results under the wrong item.
from concurrent.futures import ThreadPoolExecutor, as_completed


def run_all(fn, items, max_workers=4):
    results, errors = {}, {}
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(fn, item) for item in items]
        for i, future in enumerate(as_completed(futures)):
            item = items[i]
            exc = future.exception()
            if exc is None:
                results[item] = future.result()
            else:
                errors[item] = exc
    return results, errors
