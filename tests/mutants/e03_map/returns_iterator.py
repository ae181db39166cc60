# expect: WRONG_RESULT
# why: returns the lazy iterator from pool.map instead of a list of values.
from concurrent.futures import ThreadPoolExecutor


def map_ordered(fn, items, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        results = pool.map(fn, items)
    return results
