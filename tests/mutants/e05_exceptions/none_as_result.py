# expect: SWALLOWED_EXCEPTION
# why: records a failed item as a result of None, so the failure turns into an ordinary value.
from concurrent.futures import ThreadPoolExecutor


def run_all(fn, items, max_workers=4):
    def safe(item):
        try:
            return fn(item)
        except Exception:
            return None

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        values = list(pool.map(safe, items))
    return dict(zip(items, values)), {}
