# expect: CRASH
# why: calls .result() without a try, so the first failing item's exception escapes run_all.
from concurrent.futures import ThreadPoolExecutor


def run_all(fn, items, max_workers=4):
    results, errors = {}, {}
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {item: pool.submit(fn, item) for item in items}
        for item, future in futures.items():
            results[item] = future.result()
    return results, errors
