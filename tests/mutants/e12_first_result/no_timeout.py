# expect: HANG
# why: never passes the timeout on, so with no success in time it waits for the slow function instead of raising TimeoutError.
from concurrent.futures import ThreadPoolExecutor, as_completed


def first_result(fns, timeout):
    pool = ThreadPoolExecutor(max_workers=len(fns))
    futures = [pool.submit(fn) for fn in fns]
    last_error = None
    try:
        for future in as_completed(futures):
            exc = future.exception()
            if exc is None:
                return future.result()
            last_error = exc
        raise last_error
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
