# expect: SWALLOWED_EXCEPTION
# why: catches the exception map raises and returns the results it got so far.
from concurrent.futures import ThreadPoolExecutor


def map_ordered(fn, items, max_workers=4):
    results = []
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        try:
            for r in pool.map(fn, items):
                results.append(r)
        except Exception:
            pass
    return results
