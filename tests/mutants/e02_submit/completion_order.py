# expect: MISSED_RESULT
# why: collects results with as_completed, so they come back in finishing order, not url order.
from concurrent.futures import ThreadPoolExecutor, as_completed


def fetch_all(fetch, urls, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(fetch, url) for url in urls]
        return [f.result() for f in as_completed(futures)]
