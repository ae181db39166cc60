# expect: MISSED_RESULT
# why: uses submit + as_completed, so results come back in finishing order, not input order.
from concurrent.futures import ThreadPoolExecutor, as_completed


def map_ordered(fn, items, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(fn, item) for item in items]
        return [f.result() for f in as_completed(futures)]
