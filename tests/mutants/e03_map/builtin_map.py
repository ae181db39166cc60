# expect: NO_OVERLAP
# why: calls the builtin map instead of pool.map, so every call runs in the caller, one at a time.
from concurrent.futures import ThreadPoolExecutor


def map_ordered(fn, items, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return list(map(fn, items))
