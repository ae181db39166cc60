# expect: MISSED_RESULT
# why: falls off the end of the loop when every function failed and returns None instead of raising.
from concurrent.futures import ThreadPoolExecutor, as_completed


def first_result(fns, timeout):
    pool = ThreadPoolExecutor(max_workers=len(fns))
    futures = [pool.submit(fn) for fn in fns]
    try:
        for future in as_completed(futures, timeout=timeout):
            if future.exception() is None:
                return future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
