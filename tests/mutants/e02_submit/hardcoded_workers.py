# expect: OVER_LIMIT
# why: ignores the max_workers argument and always uses a pool of 4.
from concurrent.futures import ThreadPoolExecutor


def fetch_all(fetch, urls, max_workers=4):
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(fetch, url) for url in urls]
        return [f.result() for f in futures]
