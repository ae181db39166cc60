# expect: SWALLOWED_EXCEPTION
# why: replaces fn's exception with a RuntimeError of its own, so the original is lost to the caller.
from concurrent.futures import ThreadPoolExecutor


def map_ordered(fn, items, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        try:
            return list(pool.map(fn, items))
        except Exception as exc:
            raise RuntimeError(f"map_ordered failed: {exc}")
