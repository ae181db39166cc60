# expect: LEAKED_THREADS
# why: makes an executor without a with-block and never shuts it down, leaving its threads running.
from concurrent.futures import ThreadPoolExecutor


def map_ordered(fn, items, max_workers=4):
    pool = ThreadPoolExecutor(max_workers=max_workers)
    return list(pool.map(fn, items))
