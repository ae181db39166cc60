# expect: SWALLOWED_EXCEPTION
# why: when everything fails it keeps the first failure, not the one that failed last.
from concurrent.futures import ThreadPoolExecutor, as_completed


def first_result(fns, timeout):
    pool = ThreadPoolExecutor(max_workers=len(fns))
    futures = [pool.submit(fn) for fn in fns]
    first_error = None
    try:
        for future in as_completed(futures, timeout=timeout):
            exc = future.exception()
            if exc is None:
                return future.result()
            if first_error is None:
                first_error = exc
        raise first_error
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
