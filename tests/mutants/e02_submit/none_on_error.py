# expect: SWALLOWED_EXCEPTION
# why: catches a failing fetch and puts None in its place, so the caller never learns it failed.
from concurrent.futures import ThreadPoolExecutor


def fetch_all(fetch, urls, max_workers=4):
    results = []
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(fetch, url) for url in urls]
        for f in futures:
            try:
                results.append(f.result())
            except Exception:
                results.append(None)
    return results
