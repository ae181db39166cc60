# expect: SWALLOWED_EXCEPTION
# why: catches each failure and does nothing with it, so failed items vanish without a trace.
from concurrent.futures import ThreadPoolExecutor


def run_all(fn, items, max_workers=4):
    results, errors = {}, {}
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {item: pool.submit(fn, item) for item in items}
        for item, future in futures.items():
            try:
                results[item] = future.result()
            except Exception:
                pass
    return results, errors
