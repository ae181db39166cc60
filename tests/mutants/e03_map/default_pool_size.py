# expect: OVER_LIMIT
# why: forgets to pass max_workers to the executor, which then runs min(32, cpus + 4) at once.
from concurrent.futures import ThreadPoolExecutor


def map_ordered(fn, items, max_workers=4):
    with ThreadPoolExecutor() as pool:
        return list(pool.map(fn, items))
