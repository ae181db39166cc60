# expect: MISSED_RESULT
# why: returns the futures themselves instead of their values.
from concurrent.futures import ThreadPoolExecutor


def fetch_all(fetch, urls, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(fetch, url) for url in urls]
    return futures
