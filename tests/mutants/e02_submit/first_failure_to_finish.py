# expect: SWALLOWED_EXCEPTION
# why: re-raises whichever failure finished first, not the earliest url's.
from concurrent.futures import ThreadPoolExecutor, as_completed


def fetch_all(fetch, urls, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(fetch, url) for url in urls]
        for f in as_completed(futures):
            f.result()  # surface errors early
        return [f.result() for f in futures]
