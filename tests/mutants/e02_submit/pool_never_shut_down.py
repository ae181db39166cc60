# expect: LEAKED_THREADS
# why: creates the pool without a with-block or shutdown(), so its worker threads outlive the call.
from concurrent.futures import ThreadPoolExecutor


def fetch_all(fetch, urls, max_workers=4):
    pool = ThreadPoolExecutor(max_workers=max_workers)
    futures = [pool.submit(fetch, url) for url in urls]
    return [f.result() for f in futures]
