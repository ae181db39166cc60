# expect: NO_OVERLAP
# why: asks each future for its result right after submitting it, so only one fetch ever runs.
from concurrent.futures import ThreadPoolExecutor


def fetch_all(fetch, urls, max_workers=4):
    results = []
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for url in urls:
            future = pool.submit(fetch, url)
            results.append(future.result())
    return results
