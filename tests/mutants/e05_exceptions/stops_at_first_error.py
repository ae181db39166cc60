# expect: MISSED_RESULT
# why: the try wraps the whole loop, so the first failure ends the collection and later items are never recorded.
from concurrent.futures import ThreadPoolExecutor


def run_all(fn, items, max_workers=4):
    results, errors = {}, {}
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {item: pool.submit(fn, item) for item in items}
        try:
            for item, future in futures.items():
                current = item
                results[item] = future.result()
        except Exception as exc:
            errors[current] = exc
    return results, errors
