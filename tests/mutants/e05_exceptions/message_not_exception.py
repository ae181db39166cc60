# expect: SWALLOWED_EXCEPTION
# why: stores the error message string instead of the exception instance.
from concurrent.futures import ThreadPoolExecutor


def run_all(fn, items, max_workers=4):
    results, errors = {}, {}
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {item: pool.submit(fn, item) for item in items}
        for item, future in futures.items():
            try:
                results[item] = future.result()
            except Exception as exc:
                errors[item] = str(exc)
    return results, errors
